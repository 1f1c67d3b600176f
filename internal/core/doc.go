// Package core holds Paddock's domain types and their state machines.
//
// Everything here is plain data: no I/O, no clock reads. Other packages
// (store, scheduler, controller, api) share these types so that a pool or an
// instance means the same thing everywhere.
package core
