package main

// placeholder: the entrypoint is being written
func main() {}
