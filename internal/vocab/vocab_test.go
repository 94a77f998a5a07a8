package vocab

import "testing"

func TestEventKindOf(t *testing.T) {
	t.Parallel()
	for _, k := range EventKinds {
		got, ok := EventKindOf(k.Token)
		if !ok || got != k {
			t.Errorf("EventKindOf(%q) = %v, %v; want %v", k.Token, got, ok, k)
		}
	}
	if k, ok := EventKindOf("wa.message.sent"); ok {
		t.Errorf("EventKindOf of a CloudEvents type = %v; want no kind", k)
	}
}
