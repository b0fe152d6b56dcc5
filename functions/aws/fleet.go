package main

// The fleet queue (PGMI_FLEET_TOPIC) goes through gocloud's driver for the
// platform's own queue.
import _ "gocloud.dev/pubsub/awssnssqs"
