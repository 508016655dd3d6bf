package runtime

// JobBinder is implemented by a Source or Sink whose options depend on the
// job that holds it: a name derived from the job's (a Kafka sink's
// transactional ids), or a bound that the job's checkpoint or restart
// settings must respect (a transaction timeout). jobspec.Build calls BindJob
// once for each such node, after the job's defaults are applied and the job
// is valid; node is the node's name. An error rejects the spec and should
// name the option and the job setting that conflict.
type JobBinder interface {
	BindJob(job *Job, node string) error
}
