// Package storetest is the behaviour every herald.Store must have, written
// once against the interface and run by each database adapter's tests
// (internal/store/sqlite and internal/store/postgres):
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) herald.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite uses only the exported API. Its clock is synthetic (every time
// the store sees comes from the test), and it compares times at millisecond
// precision, which is what stores keep.
package storetest
