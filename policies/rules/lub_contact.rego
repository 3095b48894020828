# R-LUB-CONTACT: from 2025-04-01 schools and social services must, on the
# police's request, give contact details (phone, e-mail, username, home or
# other address incl. HVB or SiS). Where the contact detail is secret an
# interest assessment is made first; only 'synnerliga skäl' stop it (Q4, Q12).
# Social services' data is always secret (OSL 26 kap. 1 §); a school's
# contact details are treated as secret unless the school states they are not.
# Covers the police's request and the answer.
package sekretess.rules.lub_contact

import data.sekretess.lib

id := "R-LUB-CONTACT"

basis := "LUB (2025:170) 4 §"

holder(p) if lib.is_school(p)

holder(p) if lib.is_social_services(p)

scope contains lib.not_in_force_reason("2025-04-01") if not lib.in_force(lib.lub_from)

scope contains "message kind is not request or response" if not lib.kind in {"request", "response"}

scope contains "a request comes from the police to a school or social services" if {
	lib.kind == "request"
	not request_parties
}

request_parties if {
	lib.is_police(input.sender)
	holder(input.recipient)
}

scope contains "the answer goes from a school or social services to the police" if {
	lib.kind == "response"
	not response_parties
}

response_parties if {
	holder(input.sender)
	lib.is_police(input.recipient)
}

conditions contains sprintf("category must be contact_details, not %v", [lib.category]) if lib.category != "contact_details"

conditions contains "the request states no purpose (claims.purpose)" if {
	lib.kind == "request"
	not lib.has_purpose
}

conditions contains "must answer a request from the police to this sender (message.reply_to)" if {
	lib.kind == "response"
	not lib.answers_request_from_recipient
}

conditions contains r if {
	lib.kind == "response"
	secret
	some r in lib.interest_assessment_problems
}

secret if lib.is_social_services(input.sender)

secret if lib.claim(["secret"]) != false

# See lib.rego (results) for the shape; conditions and basis are only
# evaluated when they are needed.
result := {"id": id, "allow": false, "reasons": scope} if count(scope) > 0
else := {"id": id, "allow": false, "reasons": conditions} if count(conditions) > 0
else := {"id": id, "allow": true, "basis": basis, "obligations": set(), "reasons": set()}
