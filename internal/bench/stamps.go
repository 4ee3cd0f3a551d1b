package bench

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// stamps records a time (and a URL index) per id, for the bench's own
// bookkeeping: when each event was sent, when its first attempt arrived,
// which deliveries arrived. Its maps hold fixed-size keys and values with
// no pointer in them, so the garbage collector never scans them, however
// many ids a long run records. (sync.Maps of string ids grew the bench
// process's heap by about 600 bytes an event, and the collector's marking
// with it: work, and pauses, that landed in the very CPU and latency
// figures the bench measures.) Safe for concurrent use.
type stamps struct {
	shards [stampShards]stampShard
}

const stampShards = 64

type stampShard struct {
	mu sync.Mutex
	m  map[uuid.UUID]stamp
}

// stamp is one id's record: unix nanoseconds and a URL index.
type stamp struct {
	at  int64
	url int32
}

// time is the stamp's time.
func (s stamp) time() time.Time { return time.Unix(0, s.at) }

func newStamps() *stamps { return &stamps{} }

func (s *stamps) shard(id uuid.UUID) *stampShard {
	// UUIDv7 ids start with their time; their last byte is random.
	return &s.shards[id[15]%stampShards]
}

// add records at and url for id unless id already has a record, and says
// whether it was recorded. An id that is not a UUID is not recorded.
func (s *stamps) add(id string, at time.Time, url int) bool {
	u, err := uuid.Parse(id)
	if err != nil {
		return false
	}
	sh := s.shard(u)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[u]; ok {
		return false
	}
	if sh.m == nil {
		sh.m = make(map[uuid.UUID]stamp)
	}
	sh.m[u] = stamp{at: at.UnixNano(), url: int32(url)}
	return true
}

// get is id's record, if it has one.
func (s *stamps) get(id uuid.UUID) (stamp, bool) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v, ok := sh.m[id]
	return v, ok
}

// each calls fn with every record until fn returns false. fn must not
// call s.
func (s *stamps) each(fn func(id uuid.UUID, v stamp) bool) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for id, v := range sh.m {
			if !fn(id, v) {
				sh.mu.Unlock()
				return
			}
		}
		sh.mu.Unlock()
	}
}

// merge adds every record of o that s does not have.
func (s *stamps) merge(o *stamps) {
	for i := range o.shards {
		from, to := &o.shards[i], &s.shards[i]
		from.mu.Lock()
		to.mu.Lock()
		for id, v := range from.m {
			if _, ok := to.m[id]; !ok {
				if to.m == nil {
					to.m = make(map[uuid.UUID]stamp, len(from.m))
				}
				to.m[id] = v
			}
		}
		to.mu.Unlock()
		from.mu.Unlock()
	}
}

// len is how many ids have a record.
func (s *stamps) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// clear forgets every record.
func (s *stamps) clear() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.m = nil
		sh.mu.Unlock()
	}
}
