package com.github.weirstream.nexmark.source;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * SplitSerializers hold the checkpoint encodings of the source: a split is its
 * index, count (i32 each) and next event (i64); the enumerator's state is the
 * number of unassigned splits (i32) and each split. Both are version 1.
 */
final class SplitSerializers {
    private static final int VERSION = 1;
    /** MAX_ENUMERATOR_SPLITS bounds the splits a restored enumerator state may hold. */
    private static final int MAX_ENUMERATOR_SPLITS = 1 << 16;

    private SplitSerializers() {}

    /** Split serializes one NexmarkSplit. */
    static final class Split implements SimpleVersionedSerializer<NexmarkSplit> {
        @Override
        public int getVersion() {
            return VERSION;
        }

        @Override
        public byte[] serialize(NexmarkSplit s) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(16);
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                write(out, s);
            }
            return bytes.toByteArray();
        }

        @Override
        public NexmarkSplit deserialize(int version, byte[] serialized) throws IOException {
            checkVersion(version, "split");
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                return read(in);
            }
        }
    }

    /** Enumerator serializes the enumerator's unassigned splits. */
    static final class Enumerator implements SimpleVersionedSerializer<List<NexmarkSplit>> {
        @Override
        public int getVersion() {
            return VERSION;
        }

        @Override
        public byte[] serialize(List<NexmarkSplit> splits) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(4 + 16 * splits.size());
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeInt(splits.size());
                for (NexmarkSplit s : splits) {
                    write(out, s);
                }
            }
            return bytes.toByteArray();
        }

        @Override
        public List<NexmarkSplit> deserialize(int version, byte[] serialized) throws IOException {
            checkVersion(version, "enumerator state");
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized))) {
                int n = in.readInt();
                if (n < 0 || n > MAX_ENUMERATOR_SPLITS) {
                    throw new IOException("nexmark enumerator state: " + n + " splits is outside 0.." + MAX_ENUMERATOR_SPLITS);
                }
                List<NexmarkSplit> splits = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    splits.add(read(in));
                }
                return splits;
            }
        }
    }

    private static void checkVersion(int version, String what) throws IOException {
        if (version != VERSION) {
            throw new IOException("nexmark " + what + ": serialization version " + version + ", want " + VERSION);
        }
    }

    private static void write(DataOutputStream out, NexmarkSplit s) throws IOException {
        out.writeInt(s.index);
        out.writeInt(s.count);
        out.writeLong(s.next);
    }

    private static NexmarkSplit read(DataInputStream in) throws IOException {
        int index = in.readInt();
        int count = in.readInt();
        long next = in.readLong();
        try {
            return new NexmarkSplit(index, count, next);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
    }
}
