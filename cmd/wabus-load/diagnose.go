package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// diagnose says where the jobs without an outcome are: in the job table
// (by status) or still in the send stream, and what the ingest consumers
// hold, so that a failed scenario points at the stage that kept them.
func diagnose(ctx context.Context, l *load) []string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var tenants, ids []string
	for _, j := range l.jobs {
		if _, ok := l.s.Events.Outcome(j.Key()); !ok {
			tenants, ids = append(tenants, j.Tenant), append(ids, j.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var out []string
	rows, err := l.s.Pool.Query(ctx, `SELECT j.status, count(*) FROM wabus_job j
		JOIN unnest($1::text[], $2::text[]) AS m(tenant, job_id) USING (tenant, job_id) GROUP BY j.status`, tenants, ids)
	if err != nil {
		out = append(out, "job table: "+err.Error())
	} else {
		found := 0
		var by []string
		for rows.Next() {
			var status string
			var n int
			if rows.Scan(&status, &n) == nil {
				by, found = append(by, fmt.Sprintf("%d %s", n, status)), found+n
			}
		}
		rows.Close()
		out = append(out, fmt.Sprintf("of %d jobs without outcome, the job table has %s; %d are not in it",
			len(ids), orNone(strings.Join(by, ", ")), len(ids)-found))
	}
	out = append(out, byTenant(ctx, l, tenants, ids)...)
	return append(out, consumerStates(ctx, l)...)
}

// byTenant names the tenants of the jobs without outcome, with their
// lease and how many of their jobs wait.
func byTenant(ctx context.Context, l *load, tenants, ids []string) []string {
	rows, err := l.s.Pool.Query(ctx, `SELECT j.tenant, coalesce(l.owner, '-'), coalesce(l.epoch, 0), coalesce(l.expires_at > now(), false), count(*)
		FROM wabus_job j JOIN unnest($1::text[], $2::text[]) AS m(tenant, job_id) USING (tenant, job_id)
		LEFT JOIN wabus_lease l ON l.tenant = j.tenant GROUP BY 1, 2, 3, 4 ORDER BY 1`, tenants, ids)
	if err != nil {
		return []string{"tenants: " + err.Error()}
	}
	defer rows.Close()
	var by []string
	for rows.Next() {
		var tenant, owner string
		var epoch int64
		var live bool
		var n int
		if rows.Scan(&tenant, &owner, &epoch, &live, &n) == nil {
			by = append(by, fmt.Sprintf("%s %d (lease %s epoch %d live %t)", tenant, n, owner, epoch, live))
		}
	}
	return []string{"waiting by tenant: " + orNone(strings.Join(by, ", "))}
}

// consumerStates describes the send stream and its ingest consumers.
func consumerStates(ctx context.Context, l *load) []string {
	st, err := l.s.JS.Stream(ctx, l.s.Names.SendStream())
	if err != nil {
		return []string{"send stream: " + err.Error()}
	}
	info := st.CachedInfo()
	leader := ""
	if info.Cluster != nil {
		leader = " led by " + info.Cluster.Leader
	}
	out := []string{fmt.Sprintf("send stream%s holds %d jobs", leader, info.State.Msgs)}
	var parts []string
	lister := st.ListConsumers(ctx)
	for c := range lister.Info() {
		if c.NumPending == 0 && c.NumAckPending == 0 {
			continue
		}
		where := ""
		if c.Cluster != nil {
			where = "@" + c.Cluster.Leader
		}
		parts = append(parts, fmt.Sprintf("%s%s pending %d unacked %d waiting %d", c.Name, where, c.NumPending, c.NumAckPending, c.NumWaiting))
	}
	sort.Strings(parts)
	if err := lister.Err(); err != nil {
		parts = append(parts, "list consumers: "+err.Error())
	}
	return append(out, "consumers with jobs: "+orNone(strings.Join(parts, "; ")))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
