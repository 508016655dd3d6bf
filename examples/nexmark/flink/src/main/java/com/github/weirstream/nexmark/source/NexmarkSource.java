package com.github.weirstream.nexmark.source;

import com.github.weirstream.nexmark.generator.GeneratorConfig;
import com.github.weirstream.nexmark.model.Event;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * NexmarkSource is the Nexmark generator as a Flink source (the FLIP-27 Source
 * API), the twin of Weir's plugins/nexmark source: {@code cfg.splits} splits that
 * interleave the one event sequence (split s has events s, s + splits, ...),
 * each event with its dateTime as the record timestamp. It is bounded when
 * {@code cfg.events > 0}. Use it with
 * {@code WatermarkStrategy.forMonotonousTimestamps()}: a split's watermark is
 * then its highest timestamp minus 1 ms, and the end of a bounded run emits the
 * final watermark, as in Weir.
 */
public final class NexmarkSource implements Source<Event, NexmarkSplit, List<NexmarkSplit>> {
    private static final long serialVersionUID = 1L;

    private final GeneratorConfig cfg;

    /** NexmarkSource validates cfg (see {@link GeneratorConfig#validate()}) and keeps a copy. */
    public NexmarkSource(GeneratorConfig cfg) {
        cfg.validate();
        this.cfg = cfg.copy();
    }

    @Override
    public Boundedness getBoundedness() {
        return cfg.events > 0 ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SplitEnumerator<NexmarkSplit, List<NexmarkSplit>> createEnumerator(SplitEnumeratorContext<NexmarkSplit> context) {
        List<NexmarkSplit> splits = new ArrayList<>(cfg.splits);
        for (int i = 0; i < cfg.splits; i++) {
            splits.add(new NexmarkSplit(i, cfg.splits, i));
        }
        return new NexmarkEnumerator(context, splits);
    }

    @Override
    public SplitEnumerator<NexmarkSplit, List<NexmarkSplit>> restoreEnumerator(
            SplitEnumeratorContext<NexmarkSplit> context, List<NexmarkSplit> checkpoint) {
        for (NexmarkSplit s : checkpoint) {
            if (s.count != cfg.splits) {
                throw new IllegalStateException("nexmark source: checkpoint holds split " + s.splitId() + ", but this source has " + cfg.splits + " splits");
            }
        }
        return new NexmarkEnumerator(context, checkpoint);
    }

    @Override
    public SourceReader<Event, NexmarkSplit> createReader(SourceReaderContext readerContext) {
        return new NexmarkReader(cfg);
    }

    @Override
    public SimpleVersionedSerializer<NexmarkSplit> getSplitSerializer() {
        return new SplitSerializers.Split();
    }

    @Override
    public SimpleVersionedSerializer<List<NexmarkSplit>> getEnumeratorCheckpointSerializer() {
        return new SplitSerializers.Enumerator();
    }
}
