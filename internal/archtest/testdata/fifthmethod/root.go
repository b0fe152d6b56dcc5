package main

// The composition root's one line for the fifth method
// (TestFifthAuthMethodTouchesOnlyItsFolder overlays this file into cmd/pgmi).
import _ "github.com/pgmi-cloud/pgmi/pkg/connect/kerberos"
