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
		DatabaseURL: DefaultDatabaseURL, NATSURL: DefaultNATSURL, Driver: "whatsmeow", WorkerID: "host-1",
		AdminAddr: ":8080", MetricsAddr: ":9090", LogLevel: "info", LogFormat: "json", SubjectPrefix: "wa",
		SendRate: 20, SendBurst: 5, SendMaxAge: 24 * time.Hour, JobRetention: 7 * 24 * time.Hour, LeaseTTL: 15 * time.Second, AdminMaxBody: 32 << 20,
	}
	if c != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	c, err := Load(env(map[string]string{
		"WA_DRIVER": "sim", "WA_WORKER_ID": "w-2", "WA_SUBJECT_PREFIX": "test.a1", "WA_SEND_RATE": "0",
		"WA_SEND_BURST": "2", "WA_SEND_MAX_AGE": "2s", "WA_LEASE_TTL": "3s", "WA_ADMIN_MAX_BODY": "1MiB",
		"WA_JOB_RETENTION": "48h", "WA_ADMIN_TOKEN": "s3cret", "WA_LOG_LEVEL": "DEBUG", "WA_LOG_FORMAT": "text",
	}), "h")
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "sim" || c.WorkerID != "w-2" || c.SubjectPrefix != "test.a1" || c.SendRate != 0 ||
		c.SendBurst != 2 || c.SendMaxAge != 2*time.Second || c.JobRetention != 48*time.Hour || c.LeaseTTL != 3*time.Second ||
		c.AdminMaxBody != 1<<20 || c.AdminToken != "s3cret" || c.LogLevel != "debug" || c.LogFormat != "text" {
		t.Fatalf("got %+v", c)
	}
}

func TestLoadNamesEveryBadVariable(t *testing.T) {
	_, err := Load(env(map[string]string{
		"WA_DRIVER": "baileys", "WA_SEND_RATE": "fast", "WA_LEASE_TTL": "15", "WA_ADMIN_MAX_BODY": "32 potatoes",
		"WA_SUBJECT_PREFIX": "wa.>", "WA_SEND_BURST": "0", "WA_LOG_FORMAT": "xml", "WA_JOB_RETENTION": "10m",
	}), "host")
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"WA_DRIVER", "WA_SEND_RATE", "WA_LEASE_TTL", "WA_ADMIN_MAX_BODY", "WA_SUBJECT_PREFIX", "WA_SEND_BURST", "WA_LOG_FORMAT", "WA_JOB_RETENTION"} {
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
