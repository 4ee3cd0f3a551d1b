package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/nango"
)

// eventFlags build one webhook body from flags (events send --type …).
type eventFlags struct {
	typ, connectionID, providerConfigKey       string
	syncName, model, syncType, modifiedAfter   string
	added, updated, deleted                    int
	success                                    bool
	errorType, errorDescription                string
	operation, authMode, provider, environment string
	actionID, statusURL                        string
}

func (f *eventFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.typ, "type", "", "build the body from flags: auth, sync or async_action")
	fs.StringVar(&f.connectionID, "connection-id", "", "connectionId")
	fs.StringVar(&f.providerConfigKey, "provider-config-key", "", "providerConfigKey")
	fs.BoolVar(&f.success, "success", true, "success (auth, sync); with --success=false, give --error-type")
	fs.StringVar(&f.errorType, "error-type", "", "error.type of a failure")
	fs.StringVar(&f.errorDescription, "error-description", "", "error.description of a failure")
	fs.StringVar(&f.syncName, "sync-name", "", "syncName (sync)")
	fs.StringVar(&f.model, "model", "", "model (sync)")
	fs.StringVar(&f.syncType, "sync-type", nango.SyncTypeIncremental, "syncType (sync): INITIAL, INCREMENTAL or WEBHOOK")
	fs.IntVar(&f.added, "added", 0, "responseResults.added (sync)")
	fs.IntVar(&f.updated, "updated", 0, "responseResults.updated (sync)")
	fs.IntVar(&f.deleted, "deleted", 0, "responseResults.deleted (sync)")
	fs.StringVar(&f.modifiedAfter, "modified-after", "", "modifiedAfter of a success, startedAt and failedAt of a failure (sync; default now)")
	fs.StringVar(&f.operation, "operation", nango.OperationCreation, "operation (auth): creation, override, refresh or deletion")
	fs.StringVar(&f.authMode, "auth-mode", "OAUTH2", "authMode (auth)")
	fs.StringVar(&f.provider, "provider", "", "provider (auth; default the provider config key)")
	fs.StringVar(&f.environment, "environment", "prod", "environment: the Nango environment's name (auth)")
	fs.StringVar(&f.actionID, "action-id", "", "payload.id (async_action)")
	fs.StringVar(&f.statusURL, "status-url", "", "payload.statusUrl (async_action; default /action/<action id>)")
}

// webhook builds the body the flags describe; it is validated by the
// caller (Canonical).
func (f *eventFlags) webhook(now time.Time) (nango.Webhook, error) {
	var failure *nango.ErrorPayload
	if !f.success {
		failure = &nango.ErrorPayload{Type: f.errorType, Description: f.errorDescription}
	}
	stamp := f.modifiedAfter
	if stamp == "" {
		stamp = now.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	switch f.typ {
	case "sync":
		w := &nango.SyncWebhook{ConnectionID: f.connectionID, ProviderConfigKey: f.providerConfigKey, SyncName: f.syncName,
			Model: f.model, SyncType: f.syncType, Success: f.success}
		if f.success {
			w.ResponseResults = &nango.ResponseResults{Added: f.added, Updated: f.updated, Deleted: f.deleted}
			w.ModifiedAfter = stamp
		} else {
			w.Error, w.StartedAt, w.FailedAt = failure, stamp, stamp
		}
		return w, nil
	case "auth":
		provider := f.provider
		if provider == "" {
			provider = f.providerConfigKey
		}
		return &nango.AuthWebhook{ConnectionID: f.connectionID, ProviderConfigKey: f.providerConfigKey, AuthMode: f.authMode,
			Provider: provider, Environment: f.environment, Operation: f.operation, Success: f.success, Error: failure}, nil
	case "async_action":
		statusURL := f.statusURL
		if statusURL == "" && f.actionID != "" {
			statusURL = "/action/" + f.actionID
		}
		return &nango.AsyncActionWebhook{ConnectionID: f.connectionID, ProviderConfigKey: f.providerConfigKey,
			Payload: nango.AsyncActionResult{ID: f.actionID, StatusURL: statusURL}}, nil
	}
	return nil, cliUsagef("--type %q: want auth, sync or async_action (forward events come from providers; send them from a file)", f.typ)
}

// cliReadEvents reads the bodies of a file: one JSON object (one event), or
// a JSON array of them, {"events":[…]}, or one object a line (a batch).
func cliReadEvents(b []byte) (bodies []json.RawMessage, batch bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &bodies); err != nil {
			return nil, false, err
		}
		return bodies, true, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, false, err
		}
		bodies = append(bodies, v)
	}
	switch len(bodies) {
	case 0:
		return nil, false, errors.New("no event in it")
	case 1:
		var wrapped map[string]json.RawMessage
		if json.Unmarshal(bodies[0], &wrapped) == nil && len(wrapped) == 1 && wrapped["events"] != nil {
			var inner []json.RawMessage
			if err := json.Unmarshal(wrapped["events"], &inner); err != nil {
				return nil, false, fmt.Errorf("events: %v", err)
			}
			return inner, true, nil
		}
		return bodies, false, nil
	}
	return bodies, true, nil
}

var eventsSendCmd = &cliCmd{
	name:     "events send",
	synopsis: "(--file FILE | --type TYPE …)",
	summary:  "send an event, or a batch, to herald (POST /events)",
	about: `Sends a Nango webhook body to herald, which stores it with one delivery per
webhook URL and delivers it. The body comes from a file (--file, "-" for
standard input) holding one JSON object, or a batch: a JSON array, an
{"events":[…]} object, or one object a line (POST /events/batch, all or
nothing). Or it is built from flags: --type and the fields of that type.
An --idempotency-key makes a repeat answer as the first did and deliver
nothing new.`,
	examples: []string{
		"herald events send --type sync --connection-id c1 --provider-config-key github --sync-name issues --model Issue --added 3",
		"herald events send --type auth --connection-id c1 --provider-config-key hubspot --operation creation",
		"herald events send --type async_action --connection-id c1 --provider-config-key github --action-id a1",
		"herald events send --file event.json --idempotency-key sync-42",
		"cat events.ndjson | herald events send --file - --json",
	},
	run: func(ctx context.Context, r *cliRun) error {
		var file, key string
		var ef eventFlags
		r.fs.StringVar(&file, "file", "", `read the event (or a batch) from this file; "-" reads standard input`)
		r.fs.StringVar(&key, "idempotency-key", "", "Idempotency-Key: a repeat with this key and the same body within 24 h delivers nothing new")
		ef.register(r.fs)
		if err := r.parse(0, 0); err != nil {
			return err
		}
		opts := &client.SendOptions{IdempotencyKey: key}
		switch {
		case file != "" && ef.typ != "":
			return cliUsagef("give --file or --type, not both")
		case file == "" && ef.typ == "":
			return cliUsagef("no event: give --file FILE (- for standard input) or --type and its fields")
		case ef.typ != "":
			hook, err := ef.webhook(time.Now())
			if err != nil {
				return err
			}
			if _, err := hook.Canonical(); err != nil {
				return cliUsagef("%v (see --help for the flags of --type %s)", err, ef.typ)
			}
			res, err := r.client().SendEvent(ctx, hook, opts)
			if err != nil {
				return err
			}
			return r.showSent(res)
		}
		var b []byte
		var err error
		if file == "-" {
			b, err = io.ReadAll(r.io.stdin)
		} else {
			b, err = os.ReadFile(file)
		}
		if err != nil {
			return cliUsagef("--file: %v", err)
		}
		bodies, batch, err := cliReadEvents(b)
		if err != nil {
			return cliUsagef("--file %s: not JSON events: %v", file, err)
		}
		c := r.client()
		if !batch {
			res, err := c.SendEventJSON(ctx, bodies[0], opts)
			if err != nil {
				return err
			}
			return r.showSent(res)
		}
		results, err := c.SendBatchJSON(ctx, bodies, opts)
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		rows := [][]string{{"EVENT", "TYPE", "DELIVERIES", "SKIPPED"}}
		for _, res := range results {
			rows = append(rows, []string{res.ID, res.Type, strconv.Itoa(len(res.Deliveries)), cliDash(res.Skipped)})
		}
		return cliTable(r.io.stdout, rows)
	},
}

func (r *cliRun) showSent(res *client.SendResult) error {
	if r.json {
		return r.printJSON()
	}
	pairs := []string{"event", res.ID, "type", res.Type}
	for _, d := range res.Deliveries {
		pairs = append(pairs, "delivery", d.ID+" "+d.URL)
	}
	if res.Skipped != "" {
		pairs = append(pairs, "skipped", res.Skipped)
	}
	return cliFields(r.io.stdout, pairs...)
}

var eventsListCmd = &cliCmd{
	name:    "events list",
	summary: "list events, newest first (GET /events)",
	about: `Lists the environment's events, newest first, a page at a time (--all
follows every page). An event's status is its fate: skipped, pending,
succeeded or failed. With more pages, the cursor of the next one is
printed on standard error.`,
	examples: []string{
		"herald events list --type sync --since 24h",
		"herald events list --status failed --connection-id c1 --all",
		"herald events list --limit 200 --json | jq -r '.data[].id'",
	},
	run: func(ctx context.Context, r *cliRun) error {
		var f listFlags
		f.register(r.fs, "skipped, pending, succeeded, failed")
		if err := r.parse(0, 0); err != nil {
			return err
		}
		c := r.client()
		return cliListPages(ctx, r, &f, func(ctx context.Context, p *client.ListParams) ([]client.Event, string, error) {
			page, err := c.ListEvents(ctx, p)
			if err != nil {
				return nil, "", err
			}
			return page.Data, page.NextCursor, nil
		}, func(events []client.Event, next string) error {
			rows := [][]string{{"ID", "TYPE", "STATUS", "CONNECTION", "INTEGRATION", "CREATED", "SKIPPED"}}
			for _, e := range events {
				rows = append(rows, []string{e.ID, e.Type, e.Status, cliDash(e.ConnectionID), cliDash(e.ProviderConfigKey),
					cliTime(e.CreatedAt), cliDash(e.Skipped)})
			}
			if err := cliTable(r.io.stdout, rows); err != nil {
				return err
			}
			return r.nextPage(next)
		})
	},
}

// nextPage tells on stderr how to read the next page, if there is one.
func (r *cliRun) nextPage(next string) error {
	if next != "" {
		fmt.Fprintf(r.io.stderr, "More: add --cursor %s (or --all).\n", next)
	}
	return nil
}

var eventsShowCmd = &cliCmd{
	name:     "events show",
	synopsis: "ID",
	summary:  "show one event: its fate, body and deliveries (GET /events/{id})",
	about:    `Shows one event: its fate, the body herald sends, and its deliveries (replays included).`,
	examples: []string{
		"herald events show 0b7c4b8e-2f0c-4f43-9d1e-3f6a1c2b9e10",
		"herald events show 0b7c4b8e-2f0c-4f43-9d1e-3f6a1c2b9e10 --json | jq .body",
	},
	run: func(ctx context.Context, r *cliRun) error {
		if err := r.parse(1, 1); err != nil {
			return err
		}
		ev, err := r.client().GetEvent(ctx, r.pos[0])
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		pairs := []string{"id", ev.ID, "type", ev.Type, "status", ev.Status, "connection", cliDash(ev.ConnectionID),
			"integration", cliDash(ev.ProviderConfigKey), "created", cliTime(ev.CreatedAt)}
		if ev.Skipped != "" {
			pairs = append(pairs, "skipped", ev.Skipped)
		}
		if len(ev.UnknownFields) > 0 {
			pairs = append(pairs, "unknown fields", strings.Join(ev.UnknownFields, ", "))
		}
		if err := cliFields(r.io.stdout, pairs...); err != nil {
			return err
		}
		fmt.Fprintf(r.io.stdout, "\nbody:\n%s\n", cliIndentJSON(ev.Body))
		if len(ev.Deliveries) == 0 {
			return nil
		}
		fmt.Fprintln(r.io.stdout, "\ndeliveries:")
		return writeDeliveries(r.io.stdout, ev.Deliveries)
	},
}

// cliIndentJSON indents b for reading; b as it is when it is not JSON.
func cliIndentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}
