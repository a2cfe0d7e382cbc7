package admission

import (
	"fmt"
	"strings"

	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

// maxListed bounds how many findings a refusal spells out; the rest are counted. The API server
// passes the message to kubectl, which shows it whole.
const maxListed = 10

// refusal explains why obj is refused: each blocking finding with its check ID, what is wrong,
// the field and the fix, so the message alone tells the user what to change.
func refusal(obj *workload.Object, blocking []policy.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "outrider refused %s: %d violation", obj.Ref(), len(blocking))
	if len(blocking) != 1 {
		b.WriteString("s")
	}
	for i, f := range blocking {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  … and %d more (run `outrider scan` on the manifest for all of them)", len(blocking)-maxListed)
			break
		}
		fmt.Fprintf(&b, "\n  [%s] %s: %s (at %s)", f.Check, f.Severity, f.Message, f.Path)
		if f.Remediation != "" {
			fmt.Fprintf(&b, "\n    fix: %s", f.Remediation)
		}
	}
	fmt.Fprintf(&b, "\n  policy: %s", policiesOf(blocking))
	return b.String()
}

func policiesOf(fs []policy.Finding) string {
	seen := map[string]bool{}
	var names []string
	for _, f := range fs {
		if !seen[f.Policy] {
			seen[f.Policy] = true
			names = append(names, f.Policy)
		}
	}
	return strings.Join(names, ", ")
}

// warning is the one-line admission warning for an admitted finding.
func warning(f *policy.Finding, preexisting bool) string {
	w := fmt.Sprintf("[%s] %s: %s (at %s)", f.Check, f.Severity, f.Message, f.Path)
	if preexisting {
		w += " — already present before this update"
	}
	return w
}
