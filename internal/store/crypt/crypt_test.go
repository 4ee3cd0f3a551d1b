package crypt_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/crypt"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// fixture is one real store, read and written without the decorator too.
type fixture struct {
	raw herald.Store
	// setColumn writes a column of an environment's row with plain SQL,
	// behind every store's back.
	setColumn func(t *testing.T, id, column, value string)
	// row is an environment's row as the database holds it, as text.
	row func(t *testing.T, id string) string
	// files are the SQLite database file and its WAL (none for PostgreSQL).
	files []string
}

// eachStore runs test on a fresh SQLite store and a fresh PostgreSQL one.
func eachStore(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) { test(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { test(t, openPostgres(t)) })
}

func openSQLite(t *testing.T) *fixture {
	path := filepath.Join(t.TempDir(), "herald.db")
	st, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db := func(t *testing.T) *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return &fixture{
		raw: st,
		setColumn: func(t *testing.T, id, column, value string) {
			t.Helper()
			res, err := db(t).ExecContext(t.Context(), `UPDATE environments SET `+column+` = ? WHERE id = ?`, value, id)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("raw update of %s: %d rows", id, n)
			}
		},
		row: func(t *testing.T, id string) string {
			t.Helper()
			var s string
			if err := db(t).QueryRowContext(t.Context(), `SELECT id || '|' || name || '|' || hex(secret_key_hash) || '|' ||
				signing_key || '|' || previous_signing_key || '|' || settings FROM environments WHERE id = ?`, id).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		},
		files: []string{path, path + "-wal"},
	}
}

func openPostgres(t *testing.T) *fixture {
	dsn := pgtest.DSN(t)
	st, err := postgres.Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{
		raw: st,
		setColumn: func(t *testing.T, id, column, value string) {
			t.Helper()
			pgtest.Exec(t, dsn, `UPDATE environments SET `+column+` = $1 WHERE id = $2`, value, id)
		},
		row: func(t *testing.T, id string) string {
			t.Helper()
			conn, err := pgx.Connect(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var s string
			if err := conn.QueryRow(t.Context(), `SELECT e::text FROM environments e WHERE id = $1`, id).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

// testKey is a fresh random key, base64 as HERALD_ENCRYPTION_KEY holds it.
func testKey(t *testing.T) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(randomBytes(t))
}

func randomBytes(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, crypt.KeySize)
	rand.Read(b)
	return b
}

func keyring(t *testing.T, keys ...string) crypt.Keyring {
	t.Helper()
	k, err := crypt.ParseKeys(strings.Join(keys, ","))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func create(t *testing.T, s herald.Store) *herald.Environment {
	t.Helper()
	sum := sha256.Sum256([]byte(uuid.NewString()))
	env := &herald.Environment{ID: uuid.NewString(), Name: "env-" + uuid.NewString()[:8], SecretKeyHash: sum[:],
		SigningKey: "sk-" + uuid.NewString(), Settings: herald.DefaultSettings(), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := s.CreateEnvironment(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	return env
}

// read reads env through s in all three ways and checks they agree.
func read(t *testing.T, s herald.Store, id string) *herald.Environment {
	t.Helper()
	byID, err := s.EnvironmentByID(t.Context(), id)
	if err != nil {
		t.Fatalf("EnvironmentByID: %v", err)
	}
	byHash, err := s.EnvironmentByKeyHash(t.Context(), byID.SecretKeyHash)
	if err != nil {
		t.Fatalf("EnvironmentByKeyHash: %v", err)
	}
	list, err := s.ListEnvironments(t.Context())
	if err != nil {
		t.Fatalf("ListEnvironments: %v", err)
	}
	var listed *herald.Environment
	for i := range list {
		if list[i].ID == id {
			listed = &list[i]
		}
	}
	if listed == nil {
		t.Fatalf("ListEnvironments: %s missing", id)
	}
	for what, e := range map[string]*herald.Environment{"by key hash": byHash, "listed": listed} {
		if e.SigningKey != byID.SigningKey || e.PreviousSigningKey != byID.PreviousSigningKey {
			t.Errorf("%s: keys %q, %q; by id: %q, %q", what, e.SigningKey, e.PreviousSigningKey, byID.SigningKey, byID.PreviousSigningKey)
		}
	}
	return byID
}

// readErr reads id through s in all three ways, expects each to fail with
// target, and returns the by-id error.
func readErr(t *testing.T, s herald.Store, id string, target error) error {
	t.Helper()
	_, errID := s.EnvironmentByID(t.Context(), id)
	raw, err := s.(*crypt.Store).Store.EnvironmentByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	_, errHash := s.EnvironmentByKeyHash(t.Context(), raw.SecretKeyHash)
	_, errList := s.ListEnvironments(t.Context())
	for what, err := range map[string]error{"EnvironmentByID": errID, "EnvironmentByKeyHash": errHash, "ListEnvironments": errList} {
		if !errors.Is(err, target) {
			t.Errorf("%s: %v, want %v", what, err, target)
			continue
		}
		if !strings.Contains(err.Error(), id) {
			t.Errorf("%s: %q does not name the environment %s", what, err, id)
		}
	}
	return errID
}

func prefixOf(k crypt.Keyring, i int) string { return "enc:v1:" + k.IDs()[i] + ":" }

// TestRoundTrip: what goes in through the decorator comes out in
// plaintext, and the database holds only ciphertext.
func TestRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		keys := keyring(t, testKey(t))
		s := crypt.New(f.raw, keys)
		env := create(t, s)
		first := env.SigningKey
		if !strings.HasPrefix(first, "sk-") {
			t.Fatalf("CreateEnvironment changed the caller's environment: signing key %q", first)
		}
		got := read(t, s, env.ID)
		if got.SigningKey != first || got.PreviousSigningKey != "" || got.Name != env.Name || !bytes.Equal(got.SecretKeyHash, env.SecretKeyHash) {
			t.Fatalf("read back %+v, want signing key %q and no previous", got, first)
		}
		stored, err := f.raw.EnvironmentByID(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored.SigningKey, prefixOf(keys, 0)) || strings.Contains(stored.SigningKey, first) {
			t.Fatalf("stored signing key %q, want ciphertext starting %q", stored.SigningKey, prefixOf(keys, 0))
		}

		// Rotation: the new key is encrypted, the old ciphertext moves.
		second := "sk-" + uuid.NewString()
		if err := s.RotateSigningKey(t.Context(), env.ID, second, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got = read(t, s, env.ID)
		if got.SigningKey != second || got.PreviousSigningKey != first {
			t.Fatalf("after rotation: %q, %q; want %q, %q", got.SigningKey, got.PreviousSigningKey, second, first)
		}
		rotated, err := f.raw.EnvironmentByID(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rotated.PreviousSigningKey != stored.SigningKey || !strings.HasPrefix(rotated.SigningKey, prefixOf(keys, 0)) {
			t.Fatalf("stored after rotation: %q, %q", rotated.SigningKey, rotated.PreviousSigningKey)
		}
		// The same key sealed again is another ciphertext (random nonce).
		if err := s.RotateSigningKey(t.Context(), env.ID, second, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		again, err := f.raw.EnvironmentByID(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.SigningKey == rotated.SigningKey {
			t.Fatalf("the same key sealed twice gave the same ciphertext %q", again.SigningKey)
		}
		// Methods without secrets pass through.
		settings := got.Settings
		settings.StrictValidation = !settings.StrictValidation
		if err := s.UpdateSettings(t.Context(), env.ID, settings); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, env.ID); got.Settings.StrictValidation != settings.StrictValidation || got.SigningKey != second {
			t.Fatalf("after UpdateSettings: %+v", got)
		}

		row := f.row(t, env.ID)
		for _, plain := range []string{first, second} {
			if strings.Contains(row, plain) {
				t.Errorf("the stored row holds the plaintext key %q: %s", plain, row)
			}
			for _, path := range f.files {
				b, err := os.ReadFile(path)
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte(plain)) {
					t.Errorf("%s holds the plaintext key %q", filepath.Base(path), plain)
				}
			}
		}
		if len(f.files) > 0 {
			// The grep above must be able to see what the store wrote.
			b, _ := os.ReadFile(f.files[0])
			w, _ := os.ReadFile(f.files[1])
			if !bytes.Contains(append(b, w...), []byte(again.SigningKey)) {
				t.Errorf("neither the SQLite file nor its WAL holds the stored ciphertext: the grep proves nothing")
			}
		}
	})
}

// TestKeyRotation: a new key goes first and old ones keep decrypting; an
// old key can leave the keyring once nothing it encrypted is still in use.
func TestKeyRotation(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		a, b := testKey(t), testKey(t)
		withA, withBA, withB := crypt.New(f.raw, keyring(t, a)), crypt.New(f.raw, keyring(t, b, a)), crypt.New(f.raw, keyring(t, b))
		env := create(t, withA)
		k1 := env.SigningKey
		if got := read(t, withBA, env.ID); got.SigningKey != k1 {
			t.Fatalf("[B, A] reads %q, want %q", got.SigningKey, k1)
		}

		// Rotate under [B, A], the old key's grace already over.
		k2 := "sk-" + uuid.NewString()
		if err := withBA.RotateSigningKey(t.Context(), env.ID, k2, time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		stored, err := f.raw.EnvironmentByID(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored.SigningKey, prefixOf(keyring(t, b), 0)) || !strings.HasPrefix(stored.PreviousSigningKey, prefixOf(keyring(t, a), 0)) {
			t.Fatalf("stored %q, %q; want the current key under B, the previous under A", stored.SigningKey, stored.PreviousSigningKey)
		}
		if got := read(t, withBA, env.ID); got.SigningKey != k2 || got.PreviousSigningKey != k1 {
			t.Fatalf("[B, A] reads %q, %q; want %q, %q", got.SigningKey, got.PreviousSigningKey, k2, k1)
		}
		// [B] alone: the current key decrypts; the expired previous one,
		// which only A could open, reads as none.
		if got := read(t, withB, env.ID); got.SigningKey != k2 || got.PreviousSigningKey != "" {
			t.Fatalf("[B] reads %q, %q; want %q and no previous key", got.SigningKey, got.PreviousSigningKey, k2)
		}
		// A rotation under [B] with a grace period: both keys under B.
		k3 := "sk-" + uuid.NewString()
		if err := withB.RotateSigningKey(t.Context(), env.ID, k3, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := read(t, withB, env.ID); got.SigningKey != k3 || got.PreviousSigningKey != k2 {
			t.Fatalf("[B] reads %q, %q; want %q, %q", got.SigningKey, got.PreviousSigningKey, k3, k2)
		}

		// A previous key still in its grace period is needed: without the
		// key that encrypted it, the environment does not read.
		other := create(t, withA)
		if err := withBA.RotateSigningKey(t.Context(), other.ID, "sk-"+uuid.NewString(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		err = readErr(t, withB, other.ID, crypt.ErrUnknownKey)
		if !strings.Contains(err.Error(), "previous signing key") {
			t.Errorf("error %q does not say which key", err)
		}
	})
}

// TestWrongKeyring: a keyring without the key that encrypted a value is an
// error naming the environment, never a key.
func TestWrongKeyring(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		a, c := testKey(t), testKey(t)
		env := create(t, crypt.New(f.raw, keyring(t, a)))
		for name, keys := range map[string]crypt.Keyring{"other key": keyring(t, c), "no key": {}} {
			err := readErr(t, crypt.New(f.raw, keys), env.ID, crypt.ErrUnknownKey)
			if err == nil {
				continue
			}
			msg := err.Error()
			for _, secret := range []string{a, c, env.SigningKey} {
				if strings.Contains(msg, secret) {
					t.Errorf("%s: error %q shows a secret", name, msg)
				}
			}
			if !strings.Contains(msg, keyring(t, a).IDs()[0]) {
				t.Errorf("%s: error %q does not name the key id it needs", name, msg)
			}
		}
	})
}

// TestTampering: a stored value altered behind herald's back is detected.
func TestTampering(t *testing.T) {
	keys := keyring(t, testKey(t), testKey(t))
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, stored string) string
	}{
		{"a ciphertext byte flipped", func(t *testing.T, v string) string {
			data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, prefixOf(keys, 0)))
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 1
			return prefixOf(keys, 0) + base64.StdEncoding.EncodeToString(data)
		}},
		{"the tag cut off", func(t *testing.T, v string) string {
			data, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, prefixOf(keys, 0)))
			return prefixOf(keys, 0) + base64.StdEncoding.EncodeToString(data[:len(data)-16])
		}},
		{"shorter than a nonce and a tag", func(t *testing.T, v string) string {
			data, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, prefixOf(keys, 0)))
			return prefixOf(keys, 0) + base64.StdEncoding.EncodeToString(data[:20])
		}},
		{"another key's id", func(t *testing.T, v string) string {
			return prefixOf(keys, 1) + strings.TrimPrefix(v, prefixOf(keys, 0))
		}},
		{"not base64", func(t *testing.T, v string) string { return v + "!" }},
		{"unknown version", func(t *testing.T, v string) string { return strings.Replace(v, "enc:v1:", "enc:v9:", 1) }},
		{"no key id", func(t *testing.T, v string) string { return "enc:v1:" + strings.TrimPrefix(v, prefixOf(keys, 0)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, f *fixture) {
				s := crypt.New(f.raw, keys)
				env := create(t, s)
				stored, err := f.raw.EnvironmentByID(t.Context(), env.ID)
				if err != nil {
					t.Fatal(err)
				}
				f.setColumn(t, env.ID, "signing_key", tc.mutate(t, stored.SigningKey))
				readErr(t, s, env.ID, crypt.ErrCorrupt)
			})
		})
	}
}

// TestMovedCiphertext: a value copied into another environment's row does
// not decrypt there (the environment id is the additional data).
func TestMovedCiphertext(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		s := crypt.New(f.raw, keyring(t, testKey(t)))
		x, y := create(t, s), create(t, s)
		storedX, err := f.raw.EnvironmentByID(t.Context(), x.ID)
		if err != nil {
			t.Fatal(err)
		}
		f.setColumn(t, y.ID, "previous_signing_key", storedX.SigningKey)
		// y's previous key expired long ago (it never had one): an expired
		// value that fails authentication is still an error.
		err = readErr(t, s, y.ID, crypt.ErrCorrupt)
		if err != nil && !strings.Contains(err.Error(), "previous signing key") {
			t.Errorf("error %q does not say which key", err)
		}
		f.setColumn(t, y.ID, "signing_key", storedX.SigningKey)
		readErr(t, s, y.ID, crypt.ErrCorrupt)
		if _, err := s.EnvironmentByID(t.Context(), x.ID); err != nil {
			t.Errorf("the original environment: %v", err)
		}
	})
}

// TestPlaintextBeforeEncryption: rows written before encryption was turned
// on read as they are, and a rotation encrypts the new key.
func TestPlaintextBeforeEncryption(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		env := create(t, f.raw)
		keys := keyring(t, testKey(t))
		s := crypt.New(f.raw, keys)
		if got := read(t, s, env.ID); got.SigningKey != env.SigningKey {
			t.Fatalf("plaintext row reads %q, want %q", got.SigningKey, env.SigningKey)
		}
		next := "sk-" + uuid.NewString()
		if err := s.RotateSigningKey(t.Context(), env.ID, next, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, env.ID); got.SigningKey != next || got.PreviousSigningKey != env.SigningKey {
			t.Fatalf("after rotation %q, %q; want %q, %q", got.SigningKey, got.PreviousSigningKey, next, env.SigningKey)
		}
		stored, err := f.raw.EnvironmentByID(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored.SigningKey, prefixOf(keys, 0)) || stored.PreviousSigningKey != env.SigningKey {
			t.Fatalf("stored %q, %q; want the new key encrypted and the old one as it was", stored.SigningKey, stored.PreviousSigningKey)
		}
	})
}

// TestNoKeys: with an empty keyring the decorator writes plaintext, as the
// store alone would (what herald does without HERALD_ENCRYPTION_KEY).
func TestNoKeys(t *testing.T) {
	f := openSQLite(t)
	s := crypt.New(f.raw, crypt.Keyring{})
	env := create(t, s)
	stored, err := f.raw.EnvironmentByID(t.Context(), env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.SigningKey != env.SigningKey {
		t.Fatalf("stored %q, want the plaintext %q", stored.SigningKey, env.SigningKey)
	}
	if got := read(t, s, env.ID); got.SigningKey != env.SigningKey {
		t.Fatalf("read %q", got.SigningKey)
	}
}

// An environment's OTLP header values are stored encrypted, bound to the
// environment and the header's name, and read back in plaintext.
func TestOTLPHeaders(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		keys := keyring(t, testKey(t))
		s := crypt.New(f.raw, keys)
		env, other := create(t, s), create(t, s)
		secret := "Bearer " + uuid.NewString()
		cfg := herald.OTLPConfig{EnvironmentID: env.ID, Endpoint: "https://otel.example.com",
			Headers: map[string]string{"Authorization": secret, "X-Team": "ops"}, SpanNames: herald.SpanNamesHerald}
		if err := s.PutOTLP(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Headers["Authorization"] != secret {
			t.Fatalf("PutOTLP changed the caller's headers: %q", cfg.Headers["Authorization"])
		}
		got, err := s.OTLP(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Headers["Authorization"] != secret || got.Headers["X-Team"] != "ops" || got.Endpoint != cfg.Endpoint {
			t.Fatalf("read back %+v, want the headers in plaintext", got)
		}
		stored, err := f.raw.OTLP(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range stored.Headers {
			if !strings.HasPrefix(v, prefixOf(keys, 0)) || strings.Contains(v, cfg.Headers[name]) {
				t.Fatalf("stored header %s = %q, want ciphertext", name, v)
			}
		}
		// Ciphertext moved to another environment, or to another header,
		// does not open.
		moved := herald.OTLPConfig{EnvironmentID: other.ID, Endpoint: cfg.Endpoint,
			Headers: map[string]string{"Authorization": stored.Headers["Authorization"]}, SpanNames: herald.SpanNamesHerald}
		if err := f.raw.PutOTLP(t.Context(), moved); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OTLP(t.Context(), other.ID); !errors.Is(err, crypt.ErrCorrupt) {
			t.Fatalf("OTLP with another environment's ciphertext = %v, want ErrCorrupt", err)
		}
		renamed := herald.OTLPConfig{EnvironmentID: env.ID, Endpoint: cfg.Endpoint,
			Headers: map[string]string{"X-Api-Key": stored.Headers["Authorization"]}, SpanNames: herald.SpanNamesHerald}
		if err := f.raw.PutOTLP(t.Context(), renamed); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OTLP(t.Context(), env.ID); !errors.Is(err, crypt.ErrCorrupt) {
			t.Fatalf("OTLP with a header's ciphertext under another name = %v, want ErrCorrupt", err)
		}
	})
}
