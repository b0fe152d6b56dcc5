// Placeholder so the package builds and vets while events.go is written;
// the real composition root (the custom handler's HTTP server, run) replaces
// this file.
package main

func main() {}
