# The vocabulary the policies recognise. Anything else is denied.
package sekretess.vocab

# Message kinds (input.message.kind).
kinds := {
	"request", # asks the recipient for data; the answer is a response
	"response", # answers a request (message.reply_to names it)
	"disclosure", # data sent on the sender's own initiative
	"concern_report", # orosanmälan to social services
	"feedback", # social services' återkoppling to a reporter
	"report", # a statutory report, e.g. a confiscation reported to the police
	"consultation", # consultation about a case without identifying the child
	"meeting", # data shared in a joint meeting
	"followup", # follow-up of interventions between school and social services
}

# Data categories (input.claims.category).
categories := {
	"enrolment", # that a pupil attends the school
	"class_list",
	"school_catalogue",
	"contact_details", # phone, e-mail, username, home or other address (HVB, SiS)
	"attendance",
	"grades",
	"pupil_welfare", # elevvård, special support, social circumstances at school
	"risk_environment", # a child believed to be in a criminal risk environment
	"concern", # content of a report of concern
	"investigation_status", # opened / not opened / ongoing
	"case_details", # social services' case: interventions, outcome, assessments
	"crime_suspicion", # suspicion of a committed crime or a crime in progress
	"preliminary_investigation", # data from a förundersökning
	"confiscation", # an object the school took
	"health", # elevhälsa (medical, psychological) and other health data
	"followup_results", # individual-level results of interventions
	"aggregate_statistics", # counts without identities
}

# Data the school holds that is not covered by secrecy (Q4-Q5).
public_school_categories := {"enrolment", "class_list", "school_catalogue"}

# Data held in the activity the rector is responsible for (LUB 7 §).
# Elevhälsa's medical and psychological records (health) are not included:
# they stay secret unless there is consent.
school_categories := {
	"enrolment", "class_list", "school_catalogue", "contact_details",
	"attendance", "grades", "pupil_welfare", "risk_environment",
	"crime_suspicion", "confiscation",
}

# Every rule id, in precedence order: when several rules allow a message the
# first one in this list is reported. Specific duties and secrecy-breaking
# provisions tied to one pair of parties, one kind and one category come
# first; consent next; the general secrecy-breaking provisions (10:15 a, then
# the general clause 10:27) last.
precedence := [
	"R-CONFISCATION",
	"R-SCHOOL-CRIME-REPORT",
	"R-FEEDBACK",
	"R-FU",
	"R-CHILD-INVESTIGATION",
	"R-FB-SCHOOL",
	"R-CRIME-SUSPECT",
	"R-LUB-CONTACT",
	"R-1018A",
	"R-LUB-REQUEST",
	"R-LUB-OWN",
	"R-SCHOOL-PUBLIC",
	"R-POLICE-SCHOOL",
	"R-CONCERN",
	"R-JOINT-MEETING",
	"R-FOLLOWUP",
	"R-DEIDENTIFIED",
	"R-CONSENT",
	"R-1015A",
	"R-GENERAL",
]

rule_ids := {id | some id in precedence}

# The package under data.sekretess.rules that defines each rule.
packages := {
	"R-CONFISCATION": "confiscation",
	"R-SCHOOL-CRIME-REPORT": "school_crime_report",
	"R-FEEDBACK": "feedback",
	"R-FU": "fu",
	"R-CHILD-INVESTIGATION": "child_investigation",
	"R-FB-SCHOOL": "fb_school",
	"R-CRIME-SUSPECT": "crime_suspect",
	"R-1018A": "osl_10_18a",
	"R-LUB-CONTACT": "lub_contact",
	"R-LUB-REQUEST": "lub_request",
	"R-LUB-OWN": "lub_own",
	"R-SCHOOL-PUBLIC": "school_public",
	"R-POLICE-SCHOOL": "police_school",
	"R-CONCERN": "concern",
	"R-JOINT-MEETING": "joint_meeting",
	"R-FOLLOWUP": "followup",
	"R-DEIDENTIFIED": "deidentified",
	"R-CONSENT": "consent",
	"R-1015A": "osl_10_15a",
	"R-GENERAL": "general_clause",
}

# [rule id, package] in precedence order: precedence and packages in one
# literal, so that a denial looks up no package (lib_test.rego checks it).
rule_packages := [
	["R-CONFISCATION", "confiscation"],
	["R-SCHOOL-CRIME-REPORT", "school_crime_report"],
	["R-FEEDBACK", "feedback"],
	["R-FU", "fu"],
	["R-CHILD-INVESTIGATION", "child_investigation"],
	["R-FB-SCHOOL", "fb_school"],
	["R-CRIME-SUSPECT", "crime_suspect"],
	["R-LUB-CONTACT", "lub_contact"],
	["R-1018A", "osl_10_18a"],
	["R-LUB-REQUEST", "lub_request"],
	["R-LUB-OWN", "lub_own"],
	["R-SCHOOL-PUBLIC", "school_public"],
	["R-POLICE-SCHOOL", "police_school"],
	["R-CONCERN", "concern"],
	["R-JOINT-MEETING", "joint_meeting"],
	["R-FOLLOWUP", "followup"],
	["R-DEIDENTIFIED", "deidentified"],
	["R-CONSENT", "consent"],
	["R-1015A", "osl_10_15a"],
	["R-GENERAL", "general_clause"],
]

# Obligations that forbid the recipient to pass the data on, with the
# provision that forbids it.
no_forward_obligations := {
	"fu-secrecy: do not forward": "OSL 18 kap. 1 och 3 §§",
	"within-consent-scope": "the consent covers only its own disclosure, OSL 12 kap. 2-3 §§",
}

# The rules whose `kinds` include each message kind, in precedence order, as
# [rule id, package]. The decision evaluates `allow` only for these: every
# other rule's `allow` is false by its kind guard. A literal, so that no
# decision evaluates the rules' `kinds`; kinds_test.rego checks it against
# them.
rules_by_kind := {
	"request": [
		["R-FU", "fu"], ["R-CHILD-INVESTIGATION", "child_investigation"], ["R-FB-SCHOOL", "fb_school"],
		["R-LUB-CONTACT", "lub_contact"], ["R-LUB-REQUEST", "lub_request"],
	],
	"response": [
		["R-FU", "fu"], ["R-CHILD-INVESTIGATION", "child_investigation"], ["R-FB-SCHOOL", "fb_school"],
		["R-CRIME-SUSPECT", "crime_suspect"], ["R-LUB-CONTACT", "lub_contact"],
		["R-1018A", "osl_10_18a"], ["R-LUB-REQUEST", "lub_request"], ["R-SCHOOL-PUBLIC", "school_public"],
		["R-CONSENT", "consent"], ["R-1015A", "osl_10_15a"], ["R-GENERAL", "general_clause"],
	],
	"disclosure": [
		["R-FU", "fu"], ["R-CRIME-SUSPECT", "crime_suspect"], ["R-1018A", "osl_10_18a"],
		["R-LUB-OWN", "lub_own"], ["R-SCHOOL-PUBLIC", "school_public"], ["R-POLICE-SCHOOL", "police_school"],
		["R-DEIDENTIFIED", "deidentified"], ["R-CONSENT", "consent"], ["R-1015A", "osl_10_15a"],
		["R-GENERAL", "general_clause"],
	],
	"concern_report": [["R-CONCERN", "concern"]],
	"feedback": [["R-FEEDBACK", "feedback"], ["R-CONSENT", "consent"]],
	"report": [["R-CONFISCATION", "confiscation"], ["R-SCHOOL-CRIME-REPORT", "school_crime_report"]],
	"consultation": [["R-DEIDENTIFIED", "deidentified"]],
	"meeting": [["R-JOINT-MEETING", "joint_meeting"]],
	"followup": [["R-FOLLOWUP", "followup"], ["R-DEIDENTIFIED", "deidentified"], ["R-CONSENT", "consent"]],
}
