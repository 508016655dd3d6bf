package com.github.weirstream.nexmark.sink;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/**
 * LineFileSink writes each line it receives, followed by '\n', to the file
 * part-&lt;subtask&gt;-&lt;attempt&gt; of a directory. It is not transactional:
 * the jobs that use it run without restarts, so a failed run fails as a whole
 * and its files are ignored.
 */
public final class LineFileSink implements Sink<String> {
    private static final long serialVersionUID = 1L;
    /** PART_PREFIX starts the name of every file the sink writes. */
    public static final String PART_PREFIX = "part-";

    private final String dir;

    /** LineFileSink writes into dir, which must exist. */
    public LineFileSink(Path dir) {
        this.dir = dir.toString();
    }

    @Override
    public SinkWriter<String> createWriter(WriterInitContext context) throws IOException {
        TaskInfo t = context.getTaskInfo();
        Path file = Paths.get(dir, PART_PREFIX + t.getIndexOfThisSubtask() + "-" + t.getAttemptNumber());
        return new Writer(Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    }

    private static final class Writer implements SinkWriter<String> {
        private final BufferedWriter out;

        Writer(BufferedWriter out) {
            this.out = out;
        }

        @Override
        public void write(String line, Context context) throws IOException {
            out.write(line);
            out.write('\n');
        }

        @Override
        public void flush(boolean endOfInput) throws IOException {
            out.flush();
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
