package policy

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// celCostLimit bounds the work one rule may do on one object, so no expression can hang the
// scanner or the webhook. It is far above what any realistic rule costs.
const celCostLimit = 1_000_000

// customPrefix starts the ID of every custom rule's findings.
const customPrefix = "custom."

type celRule struct {
	id       string
	message  string
	severity Severity
	kinds    map[string]bool
	program  cel.Program
}

var (
	celEnvOnce sync.Once
	celEnv     *cel.Env
	celEnvErr  error
)

// environment is the CEL environment every rule compiles in: `object` is the manifest, and
// `podSpec` the pod spec of a workload kind (null for other kinds). The string, list and set
// extensions are the ones ValidatingAdmissionPolicy users know.
func environment() (*cel.Env, error) {
	celEnvOnce.Do(func() {
		celEnv, celEnvErr = cel.NewEnv(
			cel.Variable("object", cel.DynType),
			cel.Variable("podSpec", cel.DynType),
			ext.Strings(), ext.Lists(), ext.Sets(),
		)
	})
	return celEnv, celEnvErr
}

func compileRule(r *v1alpha1.CELRule, p *field.Path) (*celRule, field.ErrorList) {
	var errs field.ErrorList
	id := r.ID
	if id == "" {
		errs = append(errs, field.Required(p.Child("id"), "name the rule"))
	} else if !strings.HasPrefix(id, customPrefix) {
		id = customPrefix + id
	}
	if strings.TrimSpace(r.Message) == "" {
		errs = append(errs, field.Required(p.Child("message"), "say what is wrong and what to change"))
	}
	sev := SeverityMedium
	if r.Severity != "" {
		s, err := ParseSeverity(string(r.Severity))
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("severity"), r.Severity, err.Error()))
		}
		sev = s
	}
	env, err := environment()
	if err != nil {
		return nil, append(errs, field.InternalError(p, err))
	}
	ast, iss := env.Compile(r.Expression)
	if iss.Err() != nil {
		return nil, append(errs, field.Invalid(p.Child("expression"), r.Expression, iss.Err().Error()))
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, append(errs, field.Invalid(p.Child("expression"), r.Expression,
			fmt.Sprintf("must evaluate to a bool (true when the object complies), not %s", t)))
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, append(errs, field.Invalid(p.Child("expression"), r.Expression, err.Error()))
	}
	rule := &celRule{id: id, message: r.Message, severity: sev, program: prg}
	if len(r.Kinds) > 0 {
		rule.kinds = map[string]bool{}
		for _, k := range r.Kinds {
			rule.kinds[k] = true
		}
	}
	return rule, errs
}

// applies reports whether the rule looks at this object: the kinds it names, or by default
// every kind with a pod spec.
func (r *celRule) applies(in *Input) bool {
	if r.kinds != nil {
		return r.kinds[in.Object.Kind]
	}
	return in.Template != nil
}

// eval runs the rule. An expression that fails to evaluate counts as a violation, so a broken
// rule fails closed and says why.
func (r *celRule) eval(in *Input) []Violation {
	obj, err := in.Object.Unstructured()
	if err != nil {
		return []Violation{{Message: fmt.Sprintf("%s (object could not be read: %v)", r.message, err)}}
	}
	var podSpec any
	path := ""
	if in.Template != nil {
		path = in.Template.Path
		podSpec = lookupPath(obj, path)
	}
	out, _, err := r.program.Eval(map[string]any{"object": obj, "podSpec": podSpec})
	if err != nil {
		return []Violation{{Path: path, Message: fmt.Sprintf("%s (rule could not be evaluated: %v)", r.message, err)}}
	}
	if ok, isBool := out.Value().(bool); isBool && ok {
		return nil
	} else if !isBool {
		return []Violation{{Path: path, Message: fmt.Sprintf("%s (rule returned %v, not a bool)", r.message, out.Value())}}
	}
	return []Violation{{Path: path, Message: r.message}}
}

// lookupPath walks a dotted field path ("spec.template.spec") through nested maps.
func lookupPath(obj map[string]any, path string) any {
	var cur any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}
