package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
)

var settingsGetCmd = &cliCmd{
	name:    "settings get",
	summary: "print the environment's webhook settings",
	about: `Prints the environment of the key, its webhook settings (docs/settings.md)
and its webhook signing key (GET /environment).`,
	examples: []string{
		"herald settings get --key $HERALD_KEY",
		"herald settings get --json | jq .webhook_settings.primary_url",
	},
	run: func(ctx context.Context, r *cliRun) error {
		if err := r.parse(0, 0); err != nil {
			return err
		}
		env, err := r.client().GetSettings(ctx)
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		if err := cliFields(r.io.stdout, "id", env.ID, "name", env.Name, "webhook_signing_key", env.WebhookSigningKey); err != nil {
			return err
		}
		fmt.Fprintln(r.io.stdout)
		return writeSettings(r.io.stdout, &env.WebhookSettings)
	},
}

// settingKinds are the fields of PATCH /environment/webhook, in the
// order of docs/settings.md, with how a command-line value is read.
var settingKinds = []struct{ name, kind, help string }{
	{"primary_url", "url", "first webhook URL; \"\" or null removes it"},
	{"secondary_url", "url", "second webhook URL (every webhook goes to both); \"\" or null removes it"},
	{"on_auth_creation", "bool", "send auth creation webhooks"},
	{"on_auth_refresh_error", "bool", "send auth refresh (failed token refresh) webhooks"},
	{"on_sync_error", "bool", "send sync failure webhooks"},
	{"on_sync_completion_always", "bool", "send sync successes that changed nothing"},
	{"on_async_action_completion", "bool", "send async_action webhooks"},
	{"on_connection_deletion", "bool", "send auth deletion webhooks"},
	{"retry", "json", `retry policy as JSON, replacing the whole policy: {"max_retries":5,"initial_delay_ms":1000} or {"schedule_ms":[5000,300000]}`},
	{"retry_schedule", "schedule", "retry policy as a list of waits, such as 5s,5m,30m (sets retry to {\"schedule_ms\":[…]}); \"\" for no retries"},
	{"standard_webhooks", "bool", "also send the Standard Webhooks headers"},
	{"timeout_ms", "int", "per-attempt timeout in milliseconds, 1000–60000"},
	{"strict_validation", "bool", "refuse event fields herald does not know"},
	{"alert_url", "url", "where herald sends its own endpoint.disabled and endpoint.enabled; \"\" or null removes it"},
}

// settingValue reads value as the JSON value of the setting of kind.
func settingValue(kind, value string) (any, error) {
	switch kind {
	case "url":
		if value == "" || value == "null" || value == "none" {
			return nil, nil
		}
		return value, nil
	case "bool":
		return strconv.ParseBool(value)
	case "int":
		return strconv.Atoi(value)
	case "json":
		var v map[string]any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		return v, nil
	case "schedule":
		waits := []int64{}
		for part := range strings.SplitSeq(value, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if ms, err := strconv.ParseInt(part, 10, 64); err == nil {
				waits = append(waits, ms)
				continue
			}
			d, err := time.ParseDuration(part)
			if err != nil {
				return nil, fmt.Errorf("%q is neither milliseconds nor a duration such as 5m", part)
			}
			waits = append(waits, d.Milliseconds())
		}
		return map[string]any{"schedule_ms": waits}, nil
	}
	return nil, fmt.Errorf("unknown kind %s", kind)
}

// settingFlag is one --primary-url, --on-sync-error… flag: it writes its
// value into the patch.
type settingFlag struct {
	patch      map[string]any
	name, kind string
	value      string
}

func (f *settingFlag) String() string   { return f.value }
func (f *settingFlag) IsBoolFlag() bool { return f.kind == "bool" }

func (f *settingFlag) Set(s string) error {
	v, err := settingValue(f.kind, s)
	if err != nil {
		return err
	}
	f.value = s
	f.patch[patchName(f.name)] = v
	return nil
}

// patchName is the API's field for a setting (retry_schedule is retry).
func patchName(name string) string {
	if name == "retry_schedule" {
		return "retry"
	}
	return name
}

var settingsSetCmd = &cliCmd{
	name:     "settings set",
	synopsis: "[name=value …]",
	summary:  "change webhook settings (PATCH /environment/webhook)",
	about: `Changes the settings given, by flag or as name=value pairs with the API's
names (docs/settings.md), and prints the settings as they now stand. All
or nothing: if herald refuses one, none is applied. Fields not given keep
their values, except retry, which is replaced as a whole.`,
	examples: []string{
		"herald settings set --primary-url https://app.example.com/webhooks/nango",
		"herald settings set secondary_url=null on_connection_deletion=true timeout_ms=5000",
		"herald settings set --retry-schedule 5s,5m,30m,2h",
		`herald settings set retry='{"max_retries":5,"initial_delay_ms":1000,"multiplier":3}' --json`,
	},
	run: func(ctx context.Context, r *cliRun) error {
		patch := map[string]any{}
		for _, s := range settingKinds {
			r.fs.Var(&settingFlag{patch: patch, name: s.name, kind: s.kind}, strings.ReplaceAll(s.name, "_", "-"), s.help)
		}
		if err := r.parse(0, -1); err != nil {
			return err
		}
		for _, pair := range r.pos {
			name, value, ok := strings.Cut(pair, "=")
			if !ok {
				return cliUsagef("%q: want name=value, such as primary_url=https://app.example.com/hooks", pair)
			}
			name = strings.ReplaceAll(strings.TrimSpace(name), "-", "_")
			i := slices.IndexFunc(settingKinds, func(s struct{ name, kind, help string }) bool { return s.name == name })
			if i < 0 {
				names := make([]string, len(settingKinds))
				for i, s := range settingKinds {
					names[i] = s.name
				}
				return cliUsagef("unknown setting %q: one of %s", name, strings.Join(names, ", "))
			}
			v, err := settingValue(settingKinds[i].kind, value)
			if err != nil {
				return cliUsagef("%s: %v", name, err)
			}
			patch[patchName(name)] = v
		}
		if len(patch) == 0 {
			return cliUsagef("nothing to change: give a flag such as --primary-url, or name=value")
		}
		body, err := json.Marshal(patch)
		if err != nil {
			return err
		}
		s, err := r.client().PatchSettingsJSON(ctx, body)
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		return writeSettings(r.io.stdout, s)
	},
}

func writeSettings(w io.Writer, s *client.Settings) error {
	retry, err := json.Marshal(s.Retry)
	if err != nil {
		return err
	}
	b := strconv.FormatBool
	return cliFields(w,
		"primary_url", cliDash(s.PrimaryURL),
		"secondary_url", cliDash(s.SecondaryURL),
		"on_auth_creation", b(s.OnAuthCreation),
		"on_auth_refresh_error", b(s.OnAuthRefreshError),
		"on_sync_error", b(s.OnSyncError),
		"on_sync_completion_always", b(s.OnSyncCompletionAlways),
		"on_async_action_completion", b(s.OnAsyncActionCompletion),
		"on_connection_deletion", b(s.OnConnectionDeletion),
		"retry", string(retry),
		"standard_webhooks", b(s.StandardWebhooks),
		"timeout_ms", strconv.Itoa(s.TimeoutMS),
		"strict_validation", b(s.StrictValidation),
		"alert_url", cliDash(s.AlertURL),
	)
}
