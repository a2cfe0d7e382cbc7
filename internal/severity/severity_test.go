package severity

import "testing"

func TestRankAndParse(t *testing.T) {
	for i := 1; i < len(All); i++ {
		if All[i-1].Rank() <= All[i].Rank() {
			t.Errorf("%s does not rank above %s", All[i-1], All[i])
		}
	}
	if !High.AtLeast(Medium) || Medium.AtLeast(High) || !Low.AtLeast(Low) {
		t.Error("AtLeast is wrong")
	}
	for _, in := range []string{"HIGH", " high ", "High"} {
		if s, err := Parse(in); err != nil || s != High {
			t.Errorf("Parse(%q) = %q, %v", in, s, err)
		}
	}
	if _, err := Parse("urgent"); err == nil {
		t.Error("Parse(urgent) succeeded")
	}
}
