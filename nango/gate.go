package nango

// GateSettings are the environment's switches that decide which webhooks are
// sent at all (Nango's names, docs/settings.md).
type GateSettings struct {
	// OnAuthCreation sends auth "creation" webhooks, successful or not.
	OnAuthCreation bool
	// OnAuthRefreshError sends auth "refresh" webhooks (failed refreshes).
	OnAuthRefreshError bool
	// OnSyncError sends sync failure webhooks.
	OnSyncError bool
	// OnSyncCompletionAlways sends sync success webhooks even when nothing
	// was added, updated or deleted.
	OnSyncCompletionAlways bool
	// OnAsyncActionCompletion sends async action webhooks.
	OnAsyncActionCompletion bool
	// OnConnectionDeletion sends auth "deletion" webhooks.
	OnConnectionDeletion bool
}

// DefaultGateSettings returns the settings of a new environment: everything
// on except OnConnectionDeletion.
func DefaultGateSettings() GateSettings {
	return GateSettings{
		OnAuthCreation:          true,
		OnAuthRefreshError:      true,
		OnSyncError:             true,
		OnSyncCompletionAlways:  true,
		OnAsyncActionCompletion: true,
		OnConnectionDeletion:    false,
	}
}

// Reasons Gate gives for not sending a webhook; each names the setting that
// is off.
const (
	ReasonAuthCreationDisabled          = "on_auth_creation_disabled"
	ReasonAuthRefreshErrorDisabled      = "on_auth_refresh_error_disabled"
	ReasonConnectionDeletionDisabled    = "on_connection_deletion_disabled"
	ReasonSyncErrorDisabled             = "on_sync_error_disabled"
	ReasonSyncCompletionAlwaysDisabled  = "on_sync_completion_always_disabled"
	ReasonAsyncActionCompletionDisabled = "on_async_action_completion_disabled"
	// ReasonUnknownOperation: an auth operation Nango sends nothing for
	// (its own "unknown", or one newer than this package).
	ReasonUnknownOperation = "unknown_operation"
)

// Gate applies Nango's sending rules to w. It reports send == true, or
// send == false with the reason (one of the Reason constants).
//
//   - auth: "creation" needs OnAuthCreation, "refresh" needs
//     OnAuthRefreshError, "deletion" needs OnConnectionDeletion; "override"
//     is always sent; any other operation (Nango's "unknown") is never
//     sent, as Nango sends nothing for it.
//   - sync: a failure needs OnSyncError; a success with added, updated and
//     deleted all 0 needs OnSyncCompletionAlways; other successes are always
//     sent.
//   - async_action needs OnAsyncActionCompletion.
//   - forward is always sent, as is any webhook Gate has no rule for.
//
// Whether there is a URL to send to at all is the caller's concern.
func Gate(s GateSettings, w Webhook) (send bool, reason string) {
	switch w := w.(type) {
	case *AuthWebhook:
		switch w.Operation {
		case OperationCreation:
			if !s.OnAuthCreation {
				return false, ReasonAuthCreationDisabled
			}
		case OperationRefresh:
			if !s.OnAuthRefreshError {
				return false, ReasonAuthRefreshErrorDisabled
			}
		case OperationDeletion:
			if !s.OnConnectionDeletion {
				return false, ReasonConnectionDeletionDisabled
			}
		case OperationOverride:
		default:
			return false, ReasonUnknownOperation
		}
	case *SyncWebhook:
		if !w.Success {
			if !s.OnSyncError {
				return false, ReasonSyncErrorDisabled
			}
			return true, ""
		}
		r := w.ResponseResults
		empty := r == nil || (r.Added == 0 && r.Updated == 0 && r.Deleted == 0)
		if empty && !s.OnSyncCompletionAlways {
			return false, ReasonSyncCompletionAlwaysDisabled
		}
	case *AsyncActionWebhook:
		if !s.OnAsyncActionCompletion {
			return false, ReasonAsyncActionCompletionDisabled
		}
	}
	return true, ""
}
