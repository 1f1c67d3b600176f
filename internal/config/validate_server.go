package config

import (
	"cmp"
	"time"
)

// MinTokenLength is the shortest admin or metrics token accepted: 32
// characters, such as 16 random bytes in hex. Shorter tokens can be guessed
// even at a rate-limited pace.
const MinTokenLength = 32

// Defaults of server.limits. They assume a manager serving up to a few
// thousand machines; see docs/security.md for what each one protects.
const (
	DefaultMaxConnections             = 4096
	DefaultReadHeaderTimeout          = 5 * time.Second
	DefaultReadTimeout                = time.Minute
	DefaultWriteTimeout               = 2 * time.Minute
	DefaultIdleTimeout                = time.Minute
	DefaultMaxHeaderKB                = 64
	DefaultUnauthenticatedBodyTimeout = 20 * time.Second
	DefaultUnauthenticatedMemoryMB    = 64
	DefaultUnauthenticatedRequests    = 64
	DefaultWebhookMaxBodyMB           = 25 // GitHub's own cap on webhook payloads
	DefaultMachineMaxBodyKB           = 64
	DefaultAuthFailuresPerMinute      = 10
	DefaultAuthFailuresPerMinuteTotal = 300
)

const tokenHint = "generate one with: openssl rand -hex 32"

func (v *validator) serverAuth() {
	s := v.c.Server
	if s.AdminToken != "" && len(s.AdminToken) < MinTokenLength {
		v.p.at("server.admin_token", "is %d characters; at least %d are required (%s)", len(s.AdminToken), MinTokenLength, tokenHint)
	}
	if s.MetricsToken != "" && len(s.MetricsToken) < MinTokenLength {
		v.p.at("server.metrics_token", "is %d characters; at least %d are required (%s)", len(s.MetricsToken), MinTokenLength, tokenHint)
	}
	if s.ViewerToken != "" && len(s.ViewerToken) < MinTokenLength {
		v.p.at("server.viewer_token", "is %d characters; at least %d are required (%s)", len(s.ViewerToken), MinTokenLength, tokenHint)
	}
	if s.ViewerToken != "" && s.ViewerToken == s.AdminToken {
		v.p.at("server.viewer_token", "equals admin_token, so a viewer could change things; give it its own value (%s)", tokenHint)
	}
	if s.MetricsToken != "" && s.MetricsPublic {
		v.p.at("server.metrics_token", "has no effect with metrics_public: true; remove one of them")
	}
}

func (v *validator) serverLimits() {
	l := v.c.Server.Limits
	const p = "server.limits."
	v.minInt(p+"max_connections", l.MaxConnections, 16)
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"read_header_timeout", l.ReadHeaderTimeout}, {"read_timeout", l.ReadTimeout},
		{"write_timeout", l.WriteTimeout}, {"idle_timeout", l.IdleTimeout},
		{"unauthenticated_body_timeout", l.UnauthenticatedBodyTimeout},
	} {
		v.minDuration(p+d.key, d.val, time.Second)
	}
	v.minInt(p+"max_header_kb", l.MaxHeaderKB, 4)
	v.minInt(p+"unauthenticated_memory_mb", l.UnauthenticatedMemoryMB, 1)
	v.minInt(p+"unauthenticated_requests", l.UnauthenticatedRequests, 1)
	v.minInt(p+"webhook_max_body_mb", l.WebhookMaxBodyMB, 1)
	v.minInt(p+"machine_max_body_kb", l.MachineMaxBodyKB, 1)
	v.minInt(p+"auth_failures_per_minute", l.AuthFailuresPerMinute, 1)
	v.minInt(p+"auth_failures_per_minute_total", l.AuthFailuresPerMinuteTotal, 1)
	mem := cmp.Or(l.UnauthenticatedMemoryMB, DefaultUnauthenticatedMemoryMB)
	hook := cmp.Or(l.WebhookMaxBodyMB, DefaultWebhookMaxBodyMB)
	if (v.p.set[p+"unauthenticated_memory_mb"] || v.p.set[p+"webhook_max_body_mb"]) && mem >= 1 && 2*hook > mem {
		v.p.at(p+"unauthenticated_memory_mb", "(%d) must be at least twice webhook_max_body_mb (%d): reading a body may briefly hold twice its size", mem, hook)
	}
}

func applyLimitDefaults(l *ServerLimits) {
	l.MaxConnections = cmp.Or(l.MaxConnections, DefaultMaxConnections)
	l.ReadHeaderTimeout = cmp.Or(l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	l.ReadTimeout = cmp.Or(l.ReadTimeout, DefaultReadTimeout)
	l.WriteTimeout = cmp.Or(l.WriteTimeout, DefaultWriteTimeout)
	l.IdleTimeout = cmp.Or(l.IdleTimeout, DefaultIdleTimeout)
	l.MaxHeaderKB = cmp.Or(l.MaxHeaderKB, DefaultMaxHeaderKB)
	l.UnauthenticatedBodyTimeout = cmp.Or(l.UnauthenticatedBodyTimeout, DefaultUnauthenticatedBodyTimeout)
	l.UnauthenticatedMemoryMB = cmp.Or(l.UnauthenticatedMemoryMB, DefaultUnauthenticatedMemoryMB)
	l.UnauthenticatedRequests = cmp.Or(l.UnauthenticatedRequests, DefaultUnauthenticatedRequests)
	l.WebhookMaxBodyMB = cmp.Or(l.WebhookMaxBodyMB, DefaultWebhookMaxBodyMB)
	l.MachineMaxBodyKB = cmp.Or(l.MachineMaxBodyKB, DefaultMachineMaxBodyKB)
	l.AuthFailuresPerMinute = cmp.Or(l.AuthFailuresPerMinute, DefaultAuthFailuresPerMinute)
	l.AuthFailuresPerMinuteTotal = cmp.Or(l.AuthFailuresPerMinuteTotal, DefaultAuthFailuresPerMinuteTotal)
}
