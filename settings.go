package herald

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Limits of the settings (docs/settings.md).
const (
	MaxRetries       = 30
	MaxRetryTotal    = 7 * 24 * time.Hour
	DefaultTimeout   = 20 * time.Second
	MinTimeout       = time.Second
	MaxTimeout       = 60 * time.Second
	maxRetryTotalMS  = int64(MaxRetryTotal / time.Millisecond)
	defaultTimeoutMS = int(DefaultTimeout / time.Millisecond)
)

// Settings are an environment's webhook settings, with Nango's names.
type Settings struct {
	PrimaryURL              *string     `json:"primary_url"`
	SecondaryURL            *string     `json:"secondary_url"`
	OnAuthCreation          bool        `json:"on_auth_creation"`
	OnAuthRefreshError      bool        `json:"on_auth_refresh_error"`
	OnSyncError             bool        `json:"on_sync_error"`
	OnSyncCompletionAlways  bool        `json:"on_sync_completion_always"`
	OnAsyncActionCompletion bool        `json:"on_async_action_completion"`
	OnConnectionDeletion    bool        `json:"on_connection_deletion"`
	Retry                   RetryPolicy `json:"retry"`
	StandardWebhooks        bool        `json:"standard_webhooks"`
	// TimeoutMS bounds each attempt, 1,000–60,000 ms.
	TimeoutMS int `json:"timeout_ms"`
	// StrictValidation refuses event fields that Nango's types do not
	// declare, instead of keeping and delivering them.
	StrictValidation bool `json:"strict_validation"`
	// AlertURL receives herald's own signed operations events
	// (internal/alert: endpoint.disabled, endpoint.enabled). It is not a
	// webhook target: URLs leaves it out, so it has no endpoint and no
	// delivery goes to it. nil: none.
	AlertURL *string `json:"alert_url"`
}

// DefaultSettings are those of a new environment.
func DefaultSettings() Settings {
	return Settings{
		OnAuthCreation:          true,
		OnAuthRefreshError:      true,
		OnSyncError:             true,
		OnSyncCompletionAlways:  true,
		OnAsyncActionCompletion: true,
		OnConnectionDeletion:    false,
		Retry:                   DefaultRetryPolicy(),
		TimeoutMS:               defaultTimeoutMS,
	}
}

// URLs returns the target URLs, primary first: those that webhooks go to
// and that have endpoints. AlertURL is not one of them.
func (s Settings) URLs() []string {
	var urls []string
	if s.PrimaryURL != nil && *s.PrimaryURL != "" {
		urls = append(urls, *s.PrimaryURL)
	}
	if s.SecondaryURL != nil && *s.SecondaryURL != "" {
		urls = append(urls, *s.SecondaryURL)
	}
	return urls
}

// Timeout is the per-attempt timeout.
func (s Settings) Timeout() time.Duration {
	if s.TimeoutMS <= 0 {
		return DefaultTimeout
	}
	return time.Duration(s.TimeoutMS) * time.Millisecond
}

// RetryPolicy decides when a failed delivery is tried again. Either an
// exponential policy or an explicit schedule (ScheduleMS non-nil).
type RetryPolicy struct {
	MaxRetries     int
	InitialDelayMS int64
	Multiplier     float64
	MaxDelayMS     int64
	Jitter         float64 // 0–1: each delay is shortened by up to this fraction
	ScheduleMS     []int64
}

// DefaultRetryPolicy is Nango's documented one: 2 retries, 100 ms, ×2.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 2, InitialDelayMS: 100, Multiplier: 2, MaxDelayMS: 86_400_000}
}

// Retries is how many retries the policy allows after the first attempt.
func (p RetryPolicy) Retries() int {
	if p.ScheduleMS != nil {
		return len(p.ScheduleMS)
	}
	return p.MaxRetries
}

// Delay returns the wait before retry n (1-based), without jitter.
func (p RetryPolicy) Delay(n int) time.Duration {
	if n < 1 || n > p.Retries() {
		return 0
	}
	if p.ScheduleMS != nil {
		return time.Duration(p.ScheduleMS[n-1]) * time.Millisecond
	}
	d := float64(p.InitialDelayMS) * math.Pow(p.Multiplier, float64(n-1))
	if max := float64(p.MaxDelayMS); p.MaxDelayMS > 0 && d > max {
		d = max
	}
	return time.Duration(d) * time.Millisecond
}

// NextDelay returns the wait before retry n with jitter applied and a
// Retry-After hint honoured (never below the policy's delay, never above the
// policy's largest delay or the 7-day limit). ok is false when retries are exhausted.
func (p RetryPolicy) NextDelay(n int, retryAfter time.Duration) (d time.Duration, ok bool) {
	if n < 1 || n > p.Retries() {
		return 0, false
	}
	d = p.Delay(n)
	if p.Jitter > 0 {
		d -= time.Duration(rand.Float64() * p.Jitter * float64(d))
	}
	if retryAfter > d {
		d = min(retryAfter, p.RetryAfterLimit())
	}
	return d, true
}

// RetryAfterLimit is the longest wait a receiver's Retry-After can ask
// for: the policy's largest delay, or the 7-day limit with a schedule.
func (p RetryPolicy) RetryAfterLimit() time.Duration {
	if p.ScheduleMS == nil && p.MaxDelayMS > 0 {
		return min(time.Duration(p.MaxDelayMS)*time.Millisecond, MaxRetryTotal)
	}
	return MaxRetryTotal
}

type retryPolicyJSON struct {
	MaxRetries     *int     `json:"max_retries,omitempty"`
	InitialDelayMS *int64   `json:"initial_delay_ms,omitempty"`
	Multiplier     *float64 `json:"multiplier,omitempty"`
	MaxDelayMS     *int64   `json:"max_delay_ms,omitempty"`
	Jitter         *float64 `json:"jitter,omitempty"`
	ScheduleMS     []int64  `json:"schedule_ms,omitempty"`
}

// MarshalJSON writes the policy in the form it was given.
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	if p.ScheduleMS != nil {
		return json.Marshal(struct {
			ScheduleMS []int64 `json:"schedule_ms"`
		}{p.ScheduleMS})
	}
	return json.Marshal(struct {
		MaxRetries     int     `json:"max_retries"`
		InitialDelayMS int64   `json:"initial_delay_ms"`
		Multiplier     float64 `json:"multiplier"`
		MaxDelayMS     int64   `json:"max_delay_ms"`
		Jitter         float64 `json:"jitter"`
	}{p.MaxRetries, p.InitialDelayMS, p.Multiplier, p.MaxDelayMS, p.Jitter})
}

// UnmarshalJSON reads what MarshalJSON wrote (storage round trip; API input
// goes through ApplySettingsPatch, which validates).
func (p *RetryPolicy) UnmarshalJSON(b []byte) error {
	var j retryPolicyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = DefaultRetryPolicy()
	if j.ScheduleMS != nil {
		*p = RetryPolicy{ScheduleMS: j.ScheduleMS}
		return nil
	}
	if j.MaxRetries != nil {
		p.MaxRetries = *j.MaxRetries
	}
	if j.InitialDelayMS != nil {
		p.InitialDelayMS = *j.InitialDelayMS
	}
	if j.Multiplier != nil {
		p.Multiplier = *j.Multiplier
	}
	if j.MaxDelayMS != nil {
		p.MaxDelayMS = *j.MaxDelayMS
	}
	if j.Jitter != nil {
		p.Jitter = *j.Jitter
	}
	return nil
}

func fieldErr(field, format string, args ...any) error {
	return Invalid(field, fmt.Sprintf(format, args...))
}

// ApplySettingsPatch validates a PATCH /environment/webhook body, already
// parsed as generic JSON (map[string]any, float64 numbers), and returns the
// settings with it applied. It checks URL syntax only; the caller checks
// where a URL resolves to.
func ApplySettingsPatch(cur Settings, patch any) (Settings, error) {
	obj, ok := patch.(map[string]any)
	if !ok {
		return cur, fieldErr("", "body must be a JSON object")
	}
	if len(obj) == 0 {
		return cur, fieldErr("", "body must set at least one field")
	}
	next := cur
	bools := map[string]*bool{
		"on_auth_creation":           &next.OnAuthCreation,
		"on_auth_refresh_error":      &next.OnAuthRefreshError,
		"on_sync_error":              &next.OnSyncError,
		"on_sync_completion_always":  &next.OnSyncCompletionAlways,
		"on_async_action_completion": &next.OnAsyncActionCompletion,
		"on_connection_deletion":     &next.OnConnectionDeletion,
		"standard_webhooks":          &next.StandardWebhooks,
		"strict_validation":          &next.StrictValidation,
	}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch k {
		case "primary_url", "secondary_url", "alert_url":
			u, err := parseURLField(k, v)
			if err != nil {
				return cur, err
			}
			switch k {
			case "primary_url":
				next.PrimaryURL = u
			case "secondary_url":
				next.SecondaryURL = u
			default:
				next.AlertURL = u
			}
		case "retry":
			p, err := parseRetryPolicy(v)
			if err != nil {
				return cur, err
			}
			next.Retry = p
		case "timeout_ms":
			n, err := intField(k, v, int64(MinTimeout/time.Millisecond), int64(MaxTimeout/time.Millisecond))
			if err != nil {
				return cur, err
			}
			next.TimeoutMS = int(n)
		default:
			dst, ok := bools[k]
			if !ok {
				return cur, fieldErr(k, "unknown field")
			}
			b, ok := v.(bool)
			if !ok {
				return cur, fieldErr(k, "must be a boolean")
			}
			*dst = b
		}
	}
	return next, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func parseURLField(field string, v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fieldErr(field, "must be a string or null")
	}
	if s == "" {
		return nil, nil
	}
	if _, err := ValidateURL(s); err != nil {
		return nil, fieldErr(field, "%v", err)
	}
	return &s, nil
}

func intField(field string, v any, lo, hi int64) (int64, error) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		return 0, fieldErr(field, "must be an integer")
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, fieldErr(field, "must be between %d and %d", lo, hi)
	}
	return int64(f), nil
}

func parseRetryPolicy(v any) (RetryPolicy, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return RetryPolicy{}, fieldErr("retry", "must be an object")
	}
	if sched, ok := obj["schedule_ms"]; ok {
		if len(obj) != 1 {
			return RetryPolicy{}, fieldErr("retry", "schedule_ms cannot be combined with other fields")
		}
		arr, ok := sched.([]any)
		if !ok {
			return RetryPolicy{}, fieldErr("retry.schedule_ms", "must be an array of integers")
		}
		if len(arr) > MaxRetries {
			return RetryPolicy{}, fieldErr("retry.schedule_ms", "at most %d retries", MaxRetries)
		}
		p := RetryPolicy{ScheduleMS: make([]int64, 0, len(arr))}
		var total int64
		for i, e := range arr {
			n, err := intField(fmt.Sprintf("retry.schedule_ms[%d]", i), e, 0, maxRetryTotalMS)
			if err != nil {
				return RetryPolicy{}, err
			}
			total += n
			p.ScheduleMS = append(p.ScheduleMS, n)
		}
		if total > maxRetryTotalMS {
			return RetryPolicy{}, fieldErr("retry.schedule_ms", "the delays add up to more than 7 days")
		}
		return p, nil
	}
	p := DefaultRetryPolicy()
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		field := "retry." + k
		switch k {
		case "max_retries":
			n, err := intField(field, v, 0, MaxRetries)
			if err != nil {
				return p, err
			}
			p.MaxRetries = int(n)
		case "initial_delay_ms":
			n, err := intField(field, v, 0, maxRetryTotalMS)
			if err != nil {
				return p, err
			}
			p.InitialDelayMS = n
		case "max_delay_ms":
			n, err := intField(field, v, 0, maxRetryTotalMS)
			if err != nil {
				return p, err
			}
			p.MaxDelayMS = n
		case "multiplier":
			f, ok := v.(float64)
			if !ok || f < 1 || f > 100 {
				return p, fieldErr(field, "must be a number between 1 and 100")
			}
			p.Multiplier = f
		case "jitter":
			f, ok := v.(float64)
			if !ok || f < 0 || f > 1 {
				return p, fieldErr(field, "must be a number between 0 and 1")
			}
			p.Jitter = f
		default:
			return p, fieldErr(field, "unknown field")
		}
	}
	var total time.Duration
	for n := 1; n <= p.MaxRetries; n++ {
		total += p.Delay(n)
	}
	if total > MaxRetryTotal {
		return p, fieldErr("retry", "the delays add up to more than 7 days")
	}
	return p, nil
}
