package main

import (
	"context"
	"fmt"
)

var envCreateCmd = &cliCmd{
	name:     "env create",
	synopsis: "NAME",
	summary:  "create an environment and print its keys (shown once)",
	about: `Creates an environment (a tenant, like Nango's dev or prod) named NAME
([a-z0-9_-]{1,64}, unique) and prints its id, its secret key (the API key
of its producers, for --key and HERALD_KEY) and its webhook signing key.
The secret key is shown this once: keep it.`,
	examples: []string{
		"herald env create prod --admin-key $HERALD_ADMIN_KEY",
		"HERALD_ADMIN_KEY=… herald env create staging --json | jq -r .secret_key",
	},
	admin: true,
	run: func(ctx context.Context, r *cliRun) error {
		if err := r.parse(1, 1); err != nil {
			return err
		}
		env, err := r.client().CreateEnvironment(ctx, r.pos[0])
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		if err := cliFields(r.io.stdout, "id", env.ID, "name", env.Name, "secret_key", env.SecretKey,
			"webhook_signing_key", env.WebhookSigningKey, "created_at", cliTime(env.CreatedAt)); err != nil {
			return err
		}
		fmt.Fprintln(r.io.stderr, "The secret key is shown only now: keep it (HERALD_KEY).")
		return nil
	},
}

var envListCmd = &cliCmd{
	name:    "env list",
	summary: "list the environments",
	about:   `Lists every environment: id, name and creation time (never their keys).`,
	examples: []string{
		"herald env list --admin-key $HERALD_ADMIN_KEY",
		"herald env list --json | jq -r '.data[].name'",
	},
	admin: true,
	run: func(ctx context.Context, r *cliRun) error {
		if err := r.parse(0, 0); err != nil {
			return err
		}
		envs, err := r.client().ListEnvironments(ctx)
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		rows := [][]string{{"ID", "NAME", "CREATED"}}
		for _, e := range envs {
			rows = append(rows, []string{e.ID, e.Name, cliTime(e.CreatedAt)})
		}
		return cliTable(r.io.stdout, rows)
	},
}
