package main

import (
	"context"
	"net/url"
	"strings"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/gcppubsubv2" // registers itself on pubsub's default mux
)

// topicMux opens the fleet queue (PGMI_FLEET_TOPIC,
// gcppubsubv2://projects/<project>/topics/<topic>, as infra/gcp sets it)
// through gocloud's gcppubsubv2 driver: Application Default Credentials,
// or the emulator PUBSUB_EMULATOR_HOST names (plain gRPC, no credentials).
// The deployer publishes each message with Publish; Eventarc's
// messagePublished trigger pushes it back to this function as a CloudEvent
// (parsePubSubEvent).
func topicMux() *pubsub.URLMux {
	mux := new(pubsub.URLMux)
	mux.RegisterTopic(gcppubsubv2.Scheme, topicOpener{})
	return mux
}

// topicOpener is the driver's own opener with one fix. gocloud.dev
// v0.47.0 reads the documented long form
// gcppubsubv2://projects/<project>/topics/<topic> with the URL's host,
// "projects", as the project, and so publishes to
// projects/projects/topics/<topic> (NotFound). The long form is rewritten
// into the short one, gcppubsubv2://<project>/<topic>, which the driver
// reads right; the query parameters are kept.
type topicOpener struct{}

func (topicOpener) OpenTopicURL(ctx context.Context, u *url.URL) (*pubsub.Topic, error) {
	return pubsub.DefaultURLMux().OpenTopicURL(ctx, shortTopicURL(u))
}

// shortTopicURL is u in the short form when it is in the long one, else u.
func shortTopicURL(u *url.URL) *url.URL {
	if u.Host != "projects" {
		return u
	}
	project, topic, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/topics/")
	if !ok || project == "" || topic == "" || strings.Contains(project, "/") || strings.Contains(topic, "/") {
		return u
	}
	short := *u
	short.Host, short.Path, short.RawPath = project, "/"+topic, ""
	return &short
}
