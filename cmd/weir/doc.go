// Command weir is Weir's one binary: it runs jobs, serves the API, and is
// the API's client.
//
//	weir run [flags] JOBSPEC             run a job in this process on the embedded defaults
//	weir savepoint [flags] JOBSPEC DIR   write a portable savepoint of the job's last checkpoint
//	weir checkpoints [flags] JOBSPEC     list the job's checkpoints
//	weir server [flags]                  serve the weir.v1 API and run submitted jobs (server.go)
//	weir jobmanager --nats URL [flags]   the same while elected leader among JobManagers (jobmanager.go)
//	weir module push|ls|get|rm ...       client commands against a server (client.go)
//	weir job submit|ls|get|cancel|savepoint|rescale|swap|checkpoints ...
//	weir version
//
// `weir run` keeps everything under a data directory (--data-dir, default
// .weir): the job's checkpoints (a local snapshot store), the subtasks' Pebble
// state, and the compiled-module cache. Rerunning the same job with the same data
// directory resumes from its newest complete checkpoint, so a crashed run loses
// nothing and duplicates nothing in transactional sinks. Ctrl-C stops a job
// gracefully: it takes a final checkpoint, commits, and exits; a second Ctrl-C
// stops it at once (the next run resumes from the last checkpoint).
//
// This package is the composition root: the only place that wires the Wasm
// host, the plugins and the runtime together.
package main
