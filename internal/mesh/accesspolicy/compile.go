package accesspolicy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// Result is the compiled state of the mesh's access control.
type Result struct {
	// Policies holds the policy of every workload in the World. Workloads whose selecting
	// policies are the same share one *authz.Policy, and policies share their rules' slices:
	// treat every value as read-only.
	Policies map[WorkloadKey]*authz.Policy
	// Reports has one entry per AccessPolicy, sorted by namespace and name.
	Reports []Report
	// WorkloadErrors lists workloads whose rules together exceed what a proxy accepts
	// (authz.MaxRules); their policy denies everything until the policies selecting them shrink.
	WorkloadErrors map[WorkloadKey]error
}

// ErrTooManyRules is wrapped by WorkloadErrors' errors.
var ErrTooManyRules = errors.New("too many access rules for one workload")

// compiled is one AccessPolicy, prepared once and shared by every workload it selects.
type compiled struct {
	idx        int // position in namespace/name order
	namespace  string
	selector   labels.Selector
	permissive bool
	rules      []authz.Rule
	report     *Report
}

// Compile computes the authz.Policy of every workload in w from all the cluster's
// AccessPolicies. The output is deterministic (rules in policy namespace/name order, then
// ingress index; every list sorted), so comparing it with the previous result (Changed) tells
// the identity service exactly which proxies need a push.
//
// Semantics:
//   - A policy selects the workloads of its own namespace that its selector matches, never
//     others. A selected workload gets DefaultDeny and the rules of every policy selecting it.
//   - An unselected workload in a namespace labelled MeshDefaultDenyLabel=true denies
//     everything; elsewhere it allows every meshed peer.
//   - A workload is Permissive only when every policy selecting it is.
//   - An invalid policy contributes no rules but still selects its workloads (all of its
//     namespace when its selector is the invalid part), so they fail closed; its Report says
//     why. A policy is applied whole or not at all.
//
// Cost, for W workloads, N namespaces and P policies with E from entries in all: preparing the
// policies is O(E·(N + W_scope)), where W_scope is the pods in the namespaces an entry's
// podSelector looks at (its own namespace unless it names others); selecting is O(W·P_ns),
// with P_ns the policies in a workload's namespace; and the output costs O(rules) per distinct
// set of selecting policies, which pods of one Deployment share.
func Compile(w World, policies []v1alpha1.AccessPolicy) (*Result, error) {
	if w.TrustDomain.IsZero() {
		return nil, errors.New("compiling access policies: no trust domain")
	}
	ix := newIndex(w)
	all := ix.prepare(policies)
	byNS := map[string][]*compiled{}
	for _, c := range all {
		byNS[c.namespace] = append(byNS[c.namespace], c)
	}
	res := &Result{Policies: make(map[WorkloadKey]*authz.Policy, len(w.Workloads)), WorkloadErrors: map[WorkloadKey]error{}}
	memo := map[string]*authz.Policy{}
	var key strings.Builder
	var sel []*compiled
	for i := range w.Workloads {
		wl := &w.Workloads[i]
		set := labels.Set(wl.Labels)
		sel = sel[:0]
		key.Reset()
		key.WriteString(wl.Namespace)
		for _, c := range byNS[wl.Namespace] {
			if c.selector.Matches(set) {
				sel = append(sel, c)
				c.report.Selected++
				key.WriteByte(0)
				key.WriteString(strconv.Itoa(c.idx))
			}
		}
		pol, ok := memo[key.String()]
		if !ok {
			pol = assemble(sel, defaultDeny(w.Namespaces[wl.Namespace]))
			memo[key.String()] = pol
		}
		if n := rulesOf(sel); n > authz.MaxRules {
			res.WorkloadErrors[wl.Key()] = fmt.Errorf("%w: %s is selected by policies with %d rules in all (at most %d), so it denies everything",
				ErrTooManyRules, wl.Key(), n, authz.MaxRules)
		}
		res.Policies[wl.Key()] = pol
	}
	res.Reports = make([]Report, len(all))
	for i, c := range all {
		res.Reports[i] = *c.report
	}
	return res, nil
}

// prepare validates and compiles every policy, sorted by namespace and name.
func (ix *index) prepare(policies []v1alpha1.AccessPolicy) []*compiled {
	order := make([]int, len(policies))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		pa, pb := &policies[a], &policies[b]
		return strings.Compare(pa.Namespace+"/"+pa.Name, pb.Namespace+"/"+pb.Name)
	})
	out := make([]*compiled, 0, len(policies))
	for k, i := range order {
		c := ix.prepareOne(&policies[i])
		c.idx = k
		out = append(out, c)
	}
	return out
}

func (ix *index) prepareOne(ap *v1alpha1.AccessPolicy) *compiled {
	c := &compiled{namespace: ap.Namespace, selector: labels.Everything(),
		report: &Report{Policy: PolicyKey{Namespace: ap.Namespace, Name: ap.Name}, Generation: ap.Generation}}
	errs := append(validateMeta(ap), Validate(ap)...)
	if ap.Spec.Selector != nil {
		if s := selectorOf(ap.Spec.Selector); len(validateSelector(ap.Spec.Selector, field.NewPath("spec", "selector"))) == 0 {
			c.selector = s
		}
	}
	if len(errs) > 0 {
		c.report.Errors = errs
		return c
	}
	rules, warnings := ix.compileRules(ap)
	if err := (&authz.Policy{Rules: rules}).Validate(); err != nil {
		// Validate should have refused whatever authz refuses; never push it.
		c.report.Errors = field.ErrorList{field.InternalError(field.NewPath("spec"), err)}
		return c
	}
	c.rules, c.permissive = rules, ap.Spec.MTLS == v1alpha1.MTLSPermissive
	c.report.Warnings = warnings
	return c
}

// validateMeta checks what the API server guarantees for stored objects but a caller might
// not: the policy's namespace and name, which name its rules.
func validateMeta(ap *v1alpha1.AccessPolicy) field.ErrorList {
	var errs field.ErrorList
	if msgs := validation.IsDNS1123Label(ap.Namespace); len(msgs) > 0 {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), ap.Namespace, strings.Join(msgs, "; ")))
	}
	if msgs := validation.IsDNS1123Subdomain(ap.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), ap.Name, strings.Join(msgs, "; ")))
	}
	return errs
}

// assemble builds the policy of a workload that the policies sel select.
func assemble(sel []*compiled, nsDefaultDeny bool) *authz.Policy {
	if len(sel) == 0 {
		return &authz.Policy{DefaultDeny: nsDefaultDeny}
	}
	pol := &authz.Policy{DefaultDeny: true, Permissive: true}
	n := rulesOf(sel)
	for _, c := range sel {
		pol.Permissive = pol.Permissive && c.permissive
	}
	if n == 0 || n > authz.MaxRules {
		return pol // a proxy would refuse more: deny everything instead
	}
	pol.Rules = make([]authz.Rule, 0, n)
	for _, c := range sel {
		pol.Rules = append(pol.Rules, c.rules...)
	}
	return pol
}

func rulesOf(sel []*compiled) int {
	n := 0
	for _, c := range sel {
		n += len(c.rules)
	}
	return n
}

func defaultDeny(nsLabels map[string]string) bool {
	return nsLabels[v1alpha1.MeshDefaultDenyLabel] == "true"
}
