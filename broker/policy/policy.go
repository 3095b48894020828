// Package policy evaluates the sekretess rules in policies/ with OPA.
//
// The query is prepared once per policy revision and shared by every worker;
// an evaluation never compiles anything. When the policy files change they are
// recompiled in the background; if the new version does not compile, every
// evaluation fails (a denial wrapping ErrEvaluation) until it does: fail
// closed, because a broker that kept allowing under a policy nobody can read
// any more would be worse. The pipeline holds such messages undecided.
//
// A revision that compiles must also answer fixed probe inputs with a
// decision of the contract's shape (see Probe); one that does not is
// unhealthy, and every evaluation under it fails with ErrEvaluation, so that
// the broker holds its messages instead of deciding them.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
)

// Query is the document every decision is read from.
const Query = "data.sekretess.decision"

// CategoriesQuery is the set of data categories the policy defines. A
// category outside it is the sender's text, not a category.
const CategoriesQuery = "data.sekretess.vocab.categories"

// ErrEvaluation marks a decision that was denied because the policy could not
// be evaluated (compile failure, timeout, error or a malformed result).
var ErrEvaluation = errors.New("policy: evaluation failed")

// Decision is the outcome of evaluating the policy for one input.
type Decision struct {
	Allow       bool
	Rule        string
	Basis       string
	Obligations []string
	Reasons     []string
	// Result is the whole decision document as the policy returned it,
	// including any fields beyond the ones above.
	Result map[string]any
	// Revision identifies the policy files the decision was made under.
	Revision string
}

// Config configures an Engine.
type Config struct {
	// Dir is the policy directory. Every *.rego and data file below it is
	// loaded, except *_test.rego and the examples/ directory.
	Dir string
	// Timeout bounds one evaluation; zero means defaults.PolicyTimeout.
	Timeout time.Duration
	// ProbeInterval is how often Watch probes a healthy policy whose files
	// did not change; zero means defaults.PolicyProbeInterval.
	ProbeInterval time.Duration
	Logger        *slog.Logger
	// Observe, if set, is called with every input the engine evaluates and
	// the decision it made, from any goroutine. The tests use it to check
	// the inputs the broker builds against policies/input.schema.json
	// (package inputschema). The input holds the sender's claims: Observe
	// must not log or keep it beyond the test.
	Observe func(input map[string]any, d Decision)
}

// withDefaults returns c with every unset field that has a default filled in.
func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = defaults.PolicyTimeout
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = defaults.PolicyProbeInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports the first required field that is missing. It changes
// nothing; run withDefaults first.
func (c Config) validate() error {
	if c.Dir == "" {
		return errors.New("policy: Dir, the directory of Rego policies, is required")
	}
	return nil
}

type compiled struct {
	query      rego.PreparedEvalQuery
	categories map[string]bool
	revision   string
	err        error // non-nil: this revision does not compile, deny everything
	// probeErr is non-nil while this revision does not answer the probe
	// inputs with a decision (ErrContract): every evaluation fails.
	probeErr error
}

// health reports why c cannot decide messages, or nil.
func (c *compiled) health() error {
	if c.err != nil {
		return c.err
	}
	return c.probeErr
}

// Engine evaluates decisions. It is safe for concurrent use.
type Engine struct {
	cfg Config
	cur atomic.Pointer[compiled]
	mu  sync.Mutex // serialises reloads
}

// Open compiles the policies in cfg.Dir. Unlike a reload, a first load that
// does not compile is an error: the broker must not start without a policy.
// A revision that compiles but fails the probe opens unhealthy (see
// Healthy), so that the broker can start, report it and hold messages until
// the files are fixed.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg}
	rev, err := Revision(cfg.Dir)
	if err != nil {
		return nil, err
	}
	c := e.compile(ctx, rev)
	if c.err != nil {
		return nil, c.err
	}
	e.cur.Store(c)
	if c.probeErr != nil {
		e.logHealth(c)
	}
	return e, nil
}

// KnowsCategory reports whether c is one of the data categories of the policy
// in force (CategoriesQuery). Only such a category may be recorded in clear:
// anything else in claims.category is what the sender wrote, and may be
// personal data.
func (e *Engine) KnowsCategory(c string) bool { return e.cur.Load().categories[c] }

// Revision returns the revision of the policy files currently in force.
func (e *Engine) Revision() string { return e.cur.Load().revision }

// Healthy reports why the revision in force cannot decide messages, or nil:
// its compile error, or its failure to answer the probe inputs (ErrContract).
func (e *Engine) Healthy() error { return e.cur.Load().health() }

// Reload recompiles the policies if the files changed, and probes the new
// revision. It reports whether the revision changed and its health (a
// compile error, or ErrContract); while unhealthy, every evaluation fails
// with ErrEvaluation until a good revision loads.
func (e *Engine) Reload(ctx context.Context) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rev, err := Revision(e.cfg.Dir)
	if err != nil {
		e.cur.Store(&compiled{revision: "unreadable", err: err})
		return true, err
	}
	cur := e.cur.Load()
	if rev == cur.revision && cur.err == nil {
		return false, cur.health()
	}
	// A revision that failed is compiled again: the files may have been
	// read half-written, with a hash taken before or after.
	c := e.compile(ctx, rev)
	if ctx.Err() != nil {
		// Cut short by the caller: keep the revision in force.
		return false, cur.health()
	}
	if rev == cur.revision && c.err != nil && cur.err != nil && c.err.Error() == cur.err.Error() {
		return false, c.err // still failing as reported
	}
	e.cur.Store(c)
	e.logHealth(c)
	return true, c.health()
}

// logHealth logs the state of a revision that was just put in force.
func (e *Engine) logHealth(c *compiled) {
	switch {
	case c.err != nil:
		e.cfg.Logger.Error("policy does not compile: denying every message until it does", "revision", c.revision, "err", c.err)
	case c.probeErr != nil:
		e.cfg.Logger.Error("policy does not decide the probe input: holding every message undecided until it is fixed",
			"revision", c.revision, "err", c.probeErr)
	default:
		e.cfg.Logger.Info("policy loaded", "revision", c.revision)
	}
}

// Watch reloads the policies every interval until ctx is done. When the
// files did not change it probes the revision in force again: on every check
// while it is unhealthy, every Config.ProbeInterval while it is healthy.
// After each check it calls report, if not nil, with the health of the
// revision in force (nil when it compiles and answers the probe), so that
// the caller can export it.
func (e *Engine) Watch(ctx context.Context, interval time.Duration, report func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	probed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := e.Reload(ctx) // logged by Reload
			if changed {
				probed = time.Now() // the new revision was probed
			} else if err != nil || time.Since(probed) >= e.cfg.ProbeInterval {
				err = e.Probe(ctx)
				probed = time.Now()
			}
			if report != nil {
				report(err)
			}
		}
	}
}

// Eval decides one input. It always returns a usable decision: when the policy
// cannot be evaluated the decision is a denial naming why, and the error wraps
// ErrEvaluation.
func (e *Engine) Eval(ctx context.Context, input map[string]any) (Decision, error) {
	c := e.cur.Load()
	if c.err != nil {
		return denied(c.revision, "policy does not compile; no message is decided until it is fixed"),
			fmt.Errorf("%w: %v", ErrEvaluation, c.err)
	}
	if c.probeErr != nil {
		return denied(c.revision, "policy does not answer with a decision of the contract's shape; no message is decided until it is fixed"),
			fmt.Errorf("%w: %w", ErrEvaluation, c.probeErr)
	}
	d, err := e.eval(ctx, c, input)
	if err == nil && e.cfg.Observe != nil {
		// The messages' inputs only, not the health probe's.
		e.cfg.Observe(input, d)
	}
	return d, err
}

// eval evaluates input under c, which compiles.
func (e *Engine) eval(ctx context.Context, c *compiled, input map[string]any) (Decision, error) {
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return denied(c.revision, "policy input could not be encoded"), fmt.Errorf("%w: input: %v", ErrEvaluation, err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	rs, err := c.query.Eval(ctx, rego.EvalParsedInput(v))
	if err != nil {
		reason := "policy evaluation failed"
		if ctx.Err() != nil {
			reason = "policy evaluation timed out"
		}
		return denied(c.revision, reason), fmt.Errorf("%w: %v", ErrEvaluation, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return denied(c.revision, Query+" is undefined"), fmt.Errorf("%w: %s undefined", ErrEvaluation, Query)
	}
	d, err := parseDecision(rs[0].Expressions[0].Value)
	if err != nil {
		return denied(c.revision, "policy returned a malformed decision"), fmt.Errorf("%w: %v", ErrEvaluation, err)
	}
	d.Revision = c.revision
	return d, nil
}

func denied(revision, reason string) Decision {
	return Decision{
		Reasons:  []string{reason},
		Result:   map[string]any{"allow": false, "rule": nil, "basis": nil, "obligations": []any{}, "reasons": []any{reason}},
		Revision: revision,
	}
}

// parseDecision checks the decision contract strictly: a result that does not
// match it is never read as an allow.
func parseDecision(v any) (Decision, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("decision is %T, want an object", v)
	}
	var d Decision
	d.Result = m
	if d.Allow, ok = m["allow"].(bool); !ok {
		return Decision{}, errors.New("decision.allow is not a boolean")
	}
	var err error
	if d.Rule, err = optString(m, "rule"); err != nil {
		return Decision{}, err
	}
	if d.Basis, err = optString(m, "basis"); err != nil {
		return Decision{}, err
	}
	if d.Obligations, err = strings_(m, "obligations"); err != nil {
		return Decision{}, err
	}
	if d.Reasons, err = strings_(m, "reasons"); err != nil {
		return Decision{}, err
	}
	if d.Allow && (d.Rule == "" || d.Basis == "") {
		return Decision{}, errors.New("an allow must name its rule and basis")
	}
	if !d.Allow && len(d.Reasons) == 0 {
		return Decision{}, errors.New("a denial must give at least one reason")
	}
	return d, nil
}

func optString(m map[string]any, k string) (string, error) {
	switch s := m[k].(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	default:
		return "", fmt.Errorf("decision.%s is %T, want a string or null", k, s)
	}
}

func strings_(m map[string]any, k string) ([]string, error) {
	raw, ok := m[k]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("decision.%s is %T, want an array", k, raw)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("decision.%s holds %T, want strings", k, x)
		}
		out = append(out, s)
	}
	return out, nil
}

// compile compiles the policy files of revision and probes the result.
func (e *Engine) compile(ctx context.Context, revision string) *compiled {
	c := compile(ctx, e.cfg.Dir, revision)
	if c.err == nil {
		c.probeErr = e.probe(ctx, c)
	}
	return c
}

func compile(ctx context.Context, dir, revision string) *compiled {
	r := rego.New(
		rego.Query(Query),
		rego.Load([]string{dir}, skip),
	)
	pq, err := r.PrepareForEval(ctx)
	if err != nil {
		return &compiled{revision: revision, err: fmt.Errorf("policy: compile %s: %w", dir, err)}
	}
	cats, err := categories(ctx, dir)
	if err != nil {
		return &compiled{revision: revision, err: fmt.Errorf("policy: %s in %s: %w", CategoriesQuery, dir, err)}
	}
	return &compiled{query: pq, categories: cats, revision: revision}
}

// categories reads CategoriesQuery once per revision, so that no decision
// pays for it. A policy that defines no categories knows none.
func categories(ctx context.Context, dir string) (map[string]bool, error) {
	rs, err := rego.New(rego.Query(CategoriesQuery), rego.Load([]string{dir}, skip)).Eval(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return out, nil
	}
	list, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("is %T, want a set of strings", rs[0].Expressions[0].Value)
	}
	for _, x := range list {
		c, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("holds %T, want strings", x)
		}
		out[c] = true
	}
	return out, nil
}

// skip excludes tests and examples: the broker must decide with exactly the
// rules, not with fixtures that happen to live beside them.
func skip(abspath string, info fs.FileInfo, depth int) bool {
	name := info.Name()
	if info.IsDir() {
		return depth > 0 && (name == "examples" || strings.HasPrefix(name, "."))
	}
	return strings.HasSuffix(name, "_test.rego") || strings.HasPrefix(name, ".") || isSchema(name) ||
		!(strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"))
}

// isSchema reports JSON Schema files, which document the input and are not data.
func isSchema(name string) bool { return strings.HasSuffix(name, ".schema.json") }

// Revision hashes the names and contents of the files the engine loads from dir,
// so that a decision can be traced to the exact policy text it was made under.
func Revision(dir string) (string, error) {
	var files []string
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("policy: %w", err)
	}
	err = filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		depth := 0
		if rel != "." {
			depth = strings.Count(rel, string(filepath.Separator)) + 1
		}
		if skip(p, info, depth) {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !de.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("policy: %w", err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("policy: no policy files in %s", dir)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", fmt.Errorf("policy: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// InputHash returns the SHA-256 of the canonical JSON of an input (object keys
// sorted), recorded with every decision so it can be re-evaluated later.
func InputHash(input map[string]any) (string, error) {
	b, err := json.Marshal(input)
	if err != nil {
		return "", fmt.Errorf("policy: input: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
