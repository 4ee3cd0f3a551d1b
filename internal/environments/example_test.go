package environments_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/google/uuid"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

func ExampleService_Create() {
	dir, err := os.MkdirTemp("", "herald-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "herald.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	svc := environments.New(environments.Config{Store: cache.New(db, cache.Options{})})

	env, err := svc.Create(ctx, "prod")
	if err != nil {
		log.Fatal(err)
	}
	isV4 := func(s string) bool { u, err := uuid.Parse(s); return err == nil && u.Version() == 4 }
	fmt.Println(env.Name)
	fmt.Println("secret key is a UUIDv4:", isV4(env.SecretKey))
	fmt.Println("signing key is a UUIDv4:", isV4(env.SigningKey))

	got, err := svc.Authenticate(ctx, env.SecretKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the secret key authenticates", got.Name)

	_, err = svc.Create(ctx, "Prod")
	fmt.Println(err)
	_, err = svc.Create(ctx, "prod")
	fmt.Println(err)
	// Output:
	// prod
	// secret key is a UUIDv4: true
	// signing key is a UUIDv4: true
	// the secret key authenticates prod
	// name: must match [a-z0-9_-]{1,64}
	// an environment named prod already exists
}
