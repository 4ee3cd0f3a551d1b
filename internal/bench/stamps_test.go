package bench

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestStamps(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 123)
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	s := newStamps()
	for _, c := range []struct {
		id   string
		at   time.Time
		url  int
		want bool
	}{
		{a.String(), t0, 3, true},
		{a.String(), t0.Add(time.Second), 4, false}, // the first record stays
		{"not-a-uuid", t0, 0, false},
		{"", t0, 0, false},
		{b.String(), t0.Add(time.Millisecond), 1, true},
	} {
		if got := s.add(c.id, c.at, c.url); got != c.want {
			t.Errorf("add(%q) = %v, want %v", c.id, got, c.want)
		}
	}
	if v, ok := s.get(a); !ok || !v.time().Equal(t0) || v.url != 3 {
		t.Errorf("get(a) = %+v, %v; want %v at URL 3", v, ok, t0)
	}
	if n := s.len(); n != 2 {
		t.Errorf("len = %d, want 2", n)
	}

	o := newStamps()
	o.add(b.String(), t0, 9) // s's record of b wins
	c := uuid.Must(uuid.NewV7())
	o.add(c.String(), t0, 2)
	s.merge(o)
	seen := map[uuid.UUID]stamp{}
	s.each(func(id uuid.UUID, v stamp) bool { seen[id] = v; return true })
	if len(seen) != 3 || seen[b].url != 1 || seen[c].url != 2 {
		t.Errorf("after merge: %+v", seen)
	}
	calls := 0
	s.each(func(uuid.UUID, stamp) bool { calls++; return false })
	if calls != 1 {
		t.Errorf("each went on after false: %d calls", calls)
	}
	s.clear()
	if n := s.len(); n != 0 {
		t.Errorf("len after clear = %d", n)
	}
}

// TestStampsConcurrent records the same ids from several goroutines: each
// id is recorded exactly once.
func TestStampsConcurrent(t *testing.T) {
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}
	s := newStamps()
	var fresh sync.Map
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for _, id := range ids {
				if s.add(id, time.Now(), g) {
					if _, dup := fresh.LoadOrStore(id, g); dup {
						t.Errorf("%s recorded twice", id)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := s.len(); n != len(ids) {
		t.Errorf("len = %d, want %d", n, len(ids))
	}
}
