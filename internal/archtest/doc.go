// Package archtest holds the test that keeps the layout's dependency rules
// (ARCHITECTURE.md §2): the engine links only the standard library and pgx,
// the connection core no cloud SDK, the bundle package no blob driver, and
// nothing under pkg/ reaches into cmd/ or functions/.
package archtest
