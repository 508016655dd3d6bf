// Command service runs the payment service of the payments example
// (package paysvc) on 127.0.0.1:8099, where examples/payments/job.yaml
// calls it:
//
//	go run ./examples/payments/service -fail 0.2
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/weirstream/weir/examples/payments/paysvc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "address to listen on")
	fail := flag.Float64("fail", 0.2, "fraction of requests answered 503")
	flag.Parse()
	log.Printf("payment service on http://%s/charge, failing %.0f%% of requests", *addr, *fail*100)
	mux := http.NewServeMux()
	mux.Handle("/charge", &paysvc.Service{FailRatio: *fail})
	log.Fatal(http.ListenAndServe(*addr, mux))
}
