package nango

import "testing"

func TestDefaultGateSettings(t *testing.T) {
	want := GateSettings{
		OnAuthCreation: true, OnAuthRefreshError: true, OnSyncError: true,
		OnSyncCompletionAlways: true, OnAsyncActionCompletion: true,
		OnConnectionDeletion: false,
	}
	if got := DefaultGateSettings(); got != want {
		t.Errorf("DefaultGateSettings() = %+v, want %+v", got, want)
	}
}

func TestGate(t *testing.T) {
	all := GateSettings{true, true, true, true, true, true}
	none := GateSettings{}
	off := func(f func(*GateSettings)) GateSettings { s := all; f(&s); return s }

	auth := func(op string, success bool) Webhook {
		w := &AuthWebhook{Operation: op, Success: success}
		if !success {
			w.Error = &ErrorPayload{Type: "t"}
		}
		return w
	}
	syncOK := func(a, u, d int) Webhook {
		return &SyncWebhook{Success: true, ResponseResults: &ResponseResults{Added: a, Updated: u, Deleted: d}}
	}
	syncFail := &SyncWebhook{Success: false, Error: &ErrorPayload{Type: "t"}}

	tests := []struct {
		name   string
		s      GateSettings
		w      Webhook
		send   bool
		reason string
	}{
		{"auth creation on", all, auth(OperationCreation, true), true, ""},
		{"auth creation failure on", all, auth(OperationCreation, false), true, ""},
		{"auth creation off", off(func(s *GateSettings) { s.OnAuthCreation = false }), auth(OperationCreation, true), false, ReasonAuthCreationDisabled},
		{"auth creation failure off", off(func(s *GateSettings) { s.OnAuthCreation = false }), auth(OperationCreation, false), false, ReasonAuthCreationDisabled},
		{"auth refresh on", all, auth(OperationRefresh, false), true, ""},
		{"auth refresh off", off(func(s *GateSettings) { s.OnAuthRefreshError = false }), auth(OperationRefresh, false), false, ReasonAuthRefreshErrorDisabled},
		{"auth override all off", none, auth(OperationOverride, true), true, ""},
		{"auth override failure all off", none, auth(OperationOverride, false), true, ""},
		{"auth deletion on", all, auth(OperationDeletion, true), true, ""},
		{"auth deletion off", off(func(s *GateSettings) { s.OnConnectionDeletion = false }), auth(OperationDeletion, true), false, ReasonConnectionDeletionDisabled},
		{"auth deletion by default off", DefaultGateSettings(), auth(OperationDeletion, true), false, ReasonConnectionDeletionDisabled},
		{"auth creation unaffected by other toggles", GateSettings{OnAuthCreation: true}, auth(OperationCreation, true), true, ""},

		{"sync failure on", all, syncFail, true, ""},
		{"sync failure off", off(func(s *GateSettings) { s.OnSyncError = false }), syncFail, false, ReasonSyncErrorDisabled},
		{"sync failure ignores completion toggle", GateSettings{OnSyncError: true}, syncFail, true, ""},
		{"sync empty, always on", all, syncOK(0, 0, 0), true, ""},
		{"sync empty, always off", off(func(s *GateSettings) { s.OnSyncCompletionAlways = false }), syncOK(0, 0, 0), false, ReasonSyncCompletionAlwaysDisabled},
		{"sync added, always off", off(func(s *GateSettings) { s.OnSyncCompletionAlways = false }), syncOK(1, 0, 0), true, ""},
		{"sync updated, always off", none, syncOK(0, 1, 0), true, ""},
		{"sync deleted, always off", none, syncOK(0, 0, 1), true, ""},
		{"sync success ignores error toggle", GateSettings{OnSyncCompletionAlways: true}, syncOK(0, 0, 0), true, ""},

		{"async on", all, &AsyncActionWebhook{}, true, ""},
		{"async off", off(func(s *GateSettings) { s.OnAsyncActionCompletion = false }), &AsyncActionWebhook{}, false, ReasonAsyncActionCompletionDisabled},

		{"forward all off", none, &ForwardWebhook{}, true, ""},
		{"forward all on", all, &ForwardWebhook{}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send, reason := Gate(tt.s, tt.w)
			if send != tt.send || reason != tt.reason {
				t.Errorf("Gate = %v, %q; want %v, %q", send, reason, tt.send, tt.reason)
			}
		})
	}
}

// TestGateParsed runs the empty-sync rule on parsed bodies, as herald does.
func TestGateParsed(t *testing.T) {
	s := DefaultGateSettings()
	s.OnSyncCompletionAlways = false
	for _, tt := range []struct {
		results string
		send    bool
	}{
		{`{"added":0,"updated":0,"deleted":0}`, false},
		{`{"added":1,"updated":0,"deleted":0}`, true},
		{`{"added":0,"updated":0,"deleted":7}`, true},
	} {
		body := `{"type":"sync","connectionId":"c","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INCREMENTAL","success":true,"modifiedAfter":"2026-01-01T00:00:00.000Z","responseResults":` + tt.results + `}`
		w, err := ParseWebhook([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if send, _ := Gate(s, w); send != tt.send {
			t.Errorf("%s: send = %v, want %v", tt.results, send, tt.send)
		}
	}
}
