package main

import (
	"context"
	"fmt"
	"net/url"
	"path"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/awssnssqs"
)

// topicMux opens the fleet queue (PGMI_FLEET_TOPIC,
// awssqs://sqs.<region>.amazonaws.com/<account>/<queue>?region=<region>):
// an SQS queue through gocloud's awssnssqs driver, with the URL parameters
// its opener takes (gocloud.dev/aws.V2ConfigFromURLParams: region,
// endpoint, profile …). It differs in one thing, as bucketMux does: the
// SDK's log goes to logger, not to stderr as plain text (the SDK warns
// there of an unreadable Date header or a response body it could not
// drain). The deployer publishes with SendMessageBatch; the event source
// mapping delivers each message back as an SQS record (parseSQS).
func topicMux(logger logging.Logger) *pubsub.URLMux {
	mux := new(pubsub.URLMux)
	mux.RegisterTopic(awssnssqs.SQSScheme, &sqsOpener{logger: logger})
	return mux
}

type sqsOpener struct{ logger logging.Logger }

// OpenTopicURL opens the queue https://<host><path>, as awssnssqs's opener
// does.
func (o *sqsOpener) OpenTopicURL(ctx context.Context, u *url.URL) (*pubsub.Topic, error) {
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, u.Query())
	if err != nil {
		return nil, fmt.Errorf("open topic %s: %w", u.Redacted(), err)
	}
	cfg.Logger = o.logger
	qURL := "https://" + path.Join(u.Host, u.Path)
	return awssnssqs.OpenSQSTopicV2(ctx, sqs.NewFromConfig(cfg), qURL, nil), nil
}
