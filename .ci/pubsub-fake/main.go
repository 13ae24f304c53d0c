// A local Pub/Sub server for the tests: Google's in-memory fake (pstest, from Debian's
// golang-google-cloud-dev). It picks a free port on 127.0.0.1, prints host:port on stdout
// and serves until it is killed.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/pubsub/pstest"
)

func main() {
	srv := pstest.NewServer()
	fmt.Println(srv.Addr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	srv.Close()
}
