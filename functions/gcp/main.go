// Placeholder so the package builds and vets while events.go is written;
// the real composition root (functions-framework registration, run) replaces
// this file.
package main

func main() {}
