package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsMatchTheContract(t *testing.T) {
	c, err := Load(env(nil), "host-1")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		DatabaseURL:          DefaultDatabaseURL,
		NATSURL:              DefaultNATSURL,
		Driver:               "whatsmeow",
		WorkerID:             "host-1",
		AdminAddr:            ":8080",
		MetricsAddr:          ":9090",
		LogLevel:             "info",
		LogFormat:            "json",
		SubjectPrefix:        "wa",
		SendRate:             20,
		SendBurst:            5,
		SendMaxAge:           24 * time.Hour,
		LeaseTTL:             15 * time.Second,
		AdminMaxBody:         32 << 20,
		StreamReplicas:       1,
		InboundMediaMax:      64 << 20,
		KeepAliveTimeout:     time.Minute,
		LoginTimeout:         time.Minute,
		ClientOutdatedRetry:  10 * time.Minute,
		StreamReplacedMax:    3,
		StreamReplacedWindow: 10 * time.Minute,
		VersionRefresh:       24 * time.Hour,
		DeviceName:           "wabus",
		JobRetention:         7 * 24 * time.Hour,
	}
	if c != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	c, err := Load(env(map[string]string{
		"WA_DRIVER":            "sim",
		"WA_WORKER_ID":         "w-2",
		"WA_SUBJECT_PREFIX":    "test.a1",
		"WA_SEND_RATE":         "0",
		"WA_SEND_BURST":        "2",
		"WA_SEND_MAX_AGE":      "2h",
		"WA_LEASE_TTL":         "3s",
		"WA_ADMIN_MAX_BODY":    "1MiB",
		"WA_ADMIN_TOKEN":       "s3cret",
		"WA_LOG_LEVEL":         "DEBUG",
		"WA_LOG_FORMAT":        "text",
		"WA_STREAM_REPLICAS":   "3",
		"WA_INBOUND_MEDIA_MAX": "16MiB",

		"WA_KEEPALIVE_TIMEOUT":      "2m",
		"WA_LOGIN_TIMEOUT":          "30s",
		"WA_CLIENT_OUTDATED_RETRY":  "1h",
		"WA_STREAM_REPLACED_MAX":    "5",
		"WA_STREAM_REPLACED_WINDOW": "1m",
		"WA_VERSION_REFRESH":        "0",
		"WA_DEVICE_NAME":            "Acme support",
		"WA_JOB_RETENTION":          "48h",
	}), "h")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		DatabaseURL:     DefaultDatabaseURL,
		NATSURL:         DefaultNATSURL,
		Driver:          "sim",
		WorkerID:        "w-2",
		AdminAddr:       ":8080",
		AdminToken:      "s3cret",
		MetricsAddr:     ":9090",
		LogLevel:        "debug",
		LogFormat:       "text",
		SubjectPrefix:   "test.a1",
		SendRate:        0,
		SendBurst:       2,
		SendMaxAge:      2 * time.Hour,
		LeaseTTL:        3 * time.Second,
		AdminMaxBody:    1 << 20,
		StreamReplicas:  3,
		InboundMediaMax: 16 << 20,

		KeepAliveTimeout:     2 * time.Minute,
		LoginTimeout:         30 * time.Second,
		ClientOutdatedRetry:  time.Hour,
		StreamReplacedMax:    5,
		StreamReplacedWindow: time.Minute,
		VersionRefresh:       0,
		DeviceName:           "Acme support",
		JobRetention:         48 * time.Hour,
	}
	if c != want {
		t.Fatalf("got\n %+v\nwant %+v", c, want)
	}
}

func TestLoadNamesEveryBadVariable(t *testing.T) {
	bad := map[string]string{
		"WA_DRIVER":            "baileys",
		"WA_SEND_RATE":         "fast",
		"WA_LEASE_TTL":         "15",
		"WA_ADMIN_MAX_BODY":    "32 potatoes",
		"WA_SUBJECT_PREFIX":    "wa.>",
		"WA_SEND_BURST":        "0",
		"WA_LOG_FORMAT":        "xml",
		"WA_STREAM_REPLICAS":   "0",
		"WA_INBOUND_MEDIA_MAX": "12",

		"WA_KEEPALIVE_TIMEOUT":     "10ms",
		"WA_CLIENT_OUTDATED_RETRY": "5s",
		"WA_STREAM_REPLACED_MAX":   "0",
		"WA_VERSION_REFRESH":       "30s",
		"WA_DEVICE_NAME":           strings.Repeat("x", 51),
		"WA_JOB_RETENTION":         "10m",
	}
	_, err := Load(env(bad), "host")
	if err == nil {
		t.Fatal("want an error")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "32MiB": 32 << 20, "512kib": 512 << 10, "1GB": 1e9, "2 MB": 2e6} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5MiB", "12XB", "99999999999999999999"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestWorkerIDMustBeOneSubjectToken(t *testing.T) {
	for id, ok := range map[string]bool{"w-1": true, "host_2": true, "a.b": false, "": false, "x y": false} {
		c, err := Load(env(map[string]string{"WA_WORKER_ID": id}), "fallback")
		if err != nil {
			t.Fatal(err)
		}
		if id == "" {
			c.WorkerID = ""
		}
		if got := c.ValidateWorker() == nil; got != ok {
			t.Errorf("worker id %q accepted=%v, want %v", id, got, ok)
		}
	}
}

func TestLoadReadsTheLivenessVariables(t *testing.T) {
	c, err := Load(env(map[string]string{
		"WA_KEEPALIVE_TIMEOUT": "30s", "WA_LOGIN_TIMEOUT": "45s", "WA_CLIENT_OUTDATED_RETRY": "30m",
		"WA_STREAM_REPLACED_MAX": "5", "WA_STREAM_REPLACED_WINDOW": "1h", "WA_VERSION_REFRESH": "0",
	}), "h")
	if err != nil {
		t.Fatal(err)
	}
	if c.KeepAliveTimeout != 30*time.Second || c.LoginTimeout != 45*time.Second || c.ClientOutdatedRetry != 30*time.Minute ||
		c.StreamReplacedMax != 5 || c.StreamReplacedWindow != time.Hour || c.VersionRefresh != 0 {
		t.Fatalf("got %+v", c)
	}
	_, err = Load(env(map[string]string{
		"WA_KEEPALIVE_TIMEOUT": "10ms", "WA_LOGIN_TIMEOUT": "soon", "WA_CLIENT_OUTDATED_RETRY": "5s",
		"WA_STREAM_REPLACED_MAX": "0", "WA_STREAM_REPLACED_WINDOW": "0s", "WA_VERSION_REFRESH": "30s",
	}), "h")
	for _, name := range []string{"WA_KEEPALIVE_TIMEOUT", "WA_LOGIN_TIMEOUT", "WA_CLIENT_OUTDATED_RETRY",
		"WA_STREAM_REPLACED_MAX", "WA_STREAM_REPLACED_WINDOW", "WA_VERSION_REFRESH"} {
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
