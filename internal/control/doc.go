// Package control routes control requests (<prefix>.ctl.<tenant>.<op>, the
// protocol of package ctl) and the simulator's requests
// (<prefix>.sim.<tenant>.<op>) to the worker that owns the tenant.
//
// Every worker takes requests from one queue group. A request for a tenant
// whose session runs here is answered here; one for a tenant another live
// worker owns is forwarded to that owner's private subject,
// <prefix>.worker.<owner>, which the router derives from the owner's id; one
// for a tenant nobody owns is answered after this worker acquired the
// tenant. A forwarded request is answered by the owner or not at all: the
// owner does not forward it again.
package control
