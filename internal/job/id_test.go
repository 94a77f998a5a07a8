package job_test

import (
	"regexp"
	"testing"

	"github.com/wabus/wabus/internal/job"
)

var messageIDRE = regexp.MustCompile(`^3EB0[0-9A-F]{18}$`)

func TestMessageID(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{
		{"13", "order-1"}, {"13", "order-2"}, {"153", "order-1"}, {"demo-test", "order-1"},
		// A separator-free hash would collide on these two.
		{"ab", "c"}, {"a", "bc"},
		{"1", "31"}, {"13", "1"},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		id := job.MessageID(p[0], p[1])
		if !messageIDRE.MatchString(id) || len(id) != job.MessageIDLen || job.MessageIDLen != 22 {
			t.Errorf("MessageID(%q, %q) = %q, want 3EB0 and 18 upper-case hex digits (%d characters)", p[0], p[1], id, job.MessageIDLen)
		}
		if again := job.MessageID(p[0], p[1]); again != id {
			t.Errorf("MessageID(%q, %q) = %q then %q, want it stable", p[0], p[1], id, again)
		}
		if prev, ok := seen[id]; ok {
			t.Errorf("MessageID(%q, %q) = MessageID(%q, %q) = %q", p[0], p[1], prev[0], prev[1], id)
		}
		seen[id] = p
	}
	// A fixed vector (computed independently: "3EB0" + the first 18 hex
	// digits of SHA-256("13\x00order-8812-confirmation"), upper case), so the
	// id of a job never changes between releases: a retry by a newer worker
	// must reuse the id an older one sent.
	if got, want := job.MessageID("13", "order-8812-confirmation"), "3EB0BAFE694D15D4BFEBF0"; got != want {
		t.Errorf("MessageID(13, order-8812-confirmation) = %q, want %q", got, want)
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	idRE := regexp.MustCompile(`^[0-9a-f]{24}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := job.NewID()
		if !idRE.MatchString(id) {
			t.Fatalf("NewID = %q, want 24 lower-case hex characters", id)
		}
		j := &job.Job{ID: id, To: "51987654321", Text: "hi"}
		if err := j.Validate(); err != nil {
			t.Fatalf("NewID %q is not a valid job id: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}
