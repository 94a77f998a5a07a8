package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/wabus/wabus/internal/bus"
)

// route is one entry of the route table.
type route struct {
	pattern string
	// public routes need no bearer token.
	public bool
	// legacy routes are the old Node API's: errors carry "success": false.
	legacy bool
	// param is the path wildcard holding the tenant id, or "".
	param string
	// serve handles the request; tenant is the validated path tenant. A
	// returned error is answered as JSON (an *apiError, else 500).
	serve func(w http.ResponseWriter, r *http.Request, tenant string) error
	// handler serves the route instead of serve (health and metrics).
	handler http.Handler
}

// routeTable is every route admin serves, in one place: the mux is built
// from it and the OpenAPI test enumerates it. health serves /healthz,
// /readyz and /metrics.
func (s *Server) routeTable(health http.Handler) []route {
	v1 := func(pattern string, fn func(http.ResponseWriter, *http.Request, string) error) route {
		return route{pattern: pattern, param: "tenant", serve: fn}
	}
	api := func(pattern, param string, fn func(http.ResponseWriter, *http.Request, string) error) route {
		return route{pattern: pattern, legacy: true, param: param, serve: fn}
	}
	return []route{
		{pattern: "GET /healthz", public: true, handler: health},
		{pattern: "GET /readyz", public: true, handler: health},
		{pattern: "GET /metrics", public: true, handler: health},
		{pattern: "GET /ui/", public: true, handler: console()},

		{pattern: "GET /v1/sessions", serve: s.listSessions},
		v1("PUT /v1/sessions/{tenant}", s.putSession),
		v1("GET /v1/sessions/{tenant}", s.getSession),
		v1("DELETE /v1/sessions/{tenant}", s.deleteSession),
		v1("POST /v1/sessions/{tenant}/reconnect", s.reconnect),
		v1("GET /v1/sessions/{tenant}/qr", s.pairStream),
		v1("POST /v1/sessions/{tenant}/pair-phone", s.pairPhone),
		v1("POST /v1/sessions/{tenant}/messages", s.postMessage),
		v1("GET /v1/sessions/{tenant}/events", s.tenantEvents),
		v1("POST /v1/sessions/{tenant}/logout", s.logoutSession),
		v1("GET /v1/sessions/{tenant}/jobs", s.listJobs),
		v1("DELETE /v1/sessions/{tenant}/jobs/{id}", s.cancelJob),

		api("GET /api/health", "", s.apiHealth),
		api("GET /api/sessions", "", s.apiSessions),
		api("GET /api/status/{id}", "id", s.apiStatus),
		api("GET /api/connect/{id}", "id", s.apiConnect),
		api("POST /api/send/{id}", "id", s.apiSend),
		api("POST /api/send-document/{id}", "id", s.apiSendDocument),
		api("DELETE /api/delete/{id}", "id", s.apiDelete),
	}
}

// buildMux registers every route on a new mux and indexes them by pattern.
func (s *Server) buildMux(routes []route) (*http.ServeMux, map[string]route) {
	mux := http.NewServeMux()
	byPattern := make(map[string]route, len(routes))
	for _, rt := range routes {
		byPattern[rt.pattern] = rt
		if rt.handler != nil {
			mux.Handle(rt.pattern, rt.handler)
			continue
		}
		mux.Handle(rt.pattern, s.adapt(rt))
	}
	return mux, byPattern
}

// adapt validates the path tenant, runs the route and answers its error.
func (s *Server) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := ""
		if rt.param != "" {
			tenant = r.PathValue(rt.param)
			if !bus.ValidTenant(tenant) {
				writeError(w, errorf(http.StatusBadRequest, CodeInvalidTenant,
					"tenant id must be 1-64 characters of letters, digits, '_' or '-'"), rt.legacy)
				return
			}
		}
		if err := rt.serve(w, r, tenant); err != nil {
			s.fail(w, r, err, rt.legacy)
		}
	})
}

// fail answers err, logging it when it is not one of admin's own answers
// (and not the client going away).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, legacy bool) {
	ae := asAPIError(err)
	if ae.Code == CodeInternal && !errors.Is(err, context.Canceled) {
		s.log.ErrorContext(r.Context(), "admin request failed", slog.String("route", r.Pattern), slog.String("error", err.Error()))
	}
	writeError(w, ae, legacy)
}
