package io.runnel.log;

import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.SimpleRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import io.runnel.log.Batches.Rec;

/**
 * Recovery from segment files damaged at random: truncated, with bytes flipped, or with garbage
 * appended, after an unclean shutdown. Each case writes a small template log (about 9 KB in seven
 * or so segments, some batches gzip-compressed) into a fresh directory, damages it as the case's
 * seed says, and opens it. The rules:
 * <ul>
 *   <li>The open either succeeds or fails with {@link CorruptLogException} naming a damaged file;
 *       it may fail only when the damage threatens durable records — records below the
 *       checkpointed recovery point, or anything in a segment trusted because it lies wholly below
 *       it. A refusal changes no segment file, so it refuses again.</li>
 *   <li>An opened log serves exactly a prefix of the records written, by offset, key, value and
 *       timestamp — never a damaged or made-up record — holding at least every record in batches
 *       wholly before the first damaged byte (less the batch before a damaged base offset, which
 *       recovery cuts too) and every durable record.</li>
 *   <li>{@link Log#verifyAll()} passes, the log takes the next append at its end, and it reopens
 *       to the same records.</li>
 * </ul>
 * Three outcomes are the limits of what recovery can know, and are accepted exactly as stated:
 * <ul>
 *   <li>Damage inside the batches of a trusted segment: the open checks such a segment's framing,
 *       not its CRCs (it was fsynced, so no crash can have torn it, and reading every old segment
 *       at every start would cost too much, as in Kafka). {@link Log#verifyAll()} must then name
 *       the file.</li>
 *   <li>A trusted segment cut exactly between batches: every batch left lines up, and since
 *       compaction also leaves offset gaps between segments, the gap is not evidence.</li>
 *   <li>A flipped base offset in the log's last batch: Kafka's batch format leaves the base offset
 *       out of the CRC (a leader assigns offsets without recomputing it), and the last batch has no
 *       neighbour to contradict an offset moved up; its records are served at the moved offsets.</li>
 * </ul>
 * Half the cases keep no checkpoint (every segment is scanned by CRC); half keep one whose
 * recovery point lies in the middle of the log. {@code runnel.corruption.cases} sets the number
 * of cases (1000 by default, 5000 with {@code -Pslow}); each run draws a run seed. A failure names
 * both seeds; {@code -Drunnel.corruption.run.seed=<run> -Drunnel.corruption.seed=<case>} replays
 * the case alone.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CorruptionRecoveryTest {

    private static final int CASES = Integer.getInteger("runnel.corruption.cases", 1000);
    private static final Long ONE_SEED = Long.getLong("runnel.corruption.seed");
    private static final long RUN_SEED = Long.getLong("runnel.corruption.run.seed", new Random().nextLong());

    /** Small segments and a dense index, so a few KB hold many segments with index entries. */
    static final LogConfig CONFIG = LogConfig.defaults()
            .with(LogConfig.SEGMENT_BYTES, 1500)
            .with(LogConfig.INDEX_INTERVAL_BYTES, 150);

    @TempDir
    Path tmp;

    /** Where the cases run: tmpfs when there is one (see {@link #scratchDirectory}). */
    private Path scratch;

    private static final long NOW_MS = 2_000_000_000_000L;
    /** Record timestamps are recent, so segment.ms never rolls: segments roll by size only. */
    private static final long TIMESTAMP_BASE_MS = NOW_MS - 1_000_000;

    private final Clock clock = Clock.fixed(Instant.ofEpochMilli(NOW_MS), ZoneOffset.UTC);

    @BeforeEach
    void createScratch() throws IOException {
        scratch = scratchDirectory(tmp);
    }

    @AfterEach
    void deleteScratch() throws IOException {
        if (!scratch.startsWith(tmp)) {
            TestFiles.deleteTree(scratch);
        }
    }

    /**
     * A fresh directory in tmpfs ({@code /dev/shm}) if the machine has one, else {@code fallback}.
     * The cases test recovery logic, not the disk, and on a real disk the file creations and fsyncs
     * of a thousand cases take several times longer than the cases themselves.
     */
    static Path scratchDirectory(Path fallback) throws IOException {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return Files.createTempDirectory(shm, "runnel-test-");
        }
        return fallback;
    }

    // ---------------------------------------------------------------- the template

    /** One batch of the template, where it lies and what it holds. */
    record BatchAt(int segment, int position, int sizeBytes, long firstOffset, int recordCount) {
        int end() {
            return position + sizeBytes;
        }
    }

    /** A closed-uncleanly log and what it holds. {@code recoveryPoint} is 0 when there is no checkpoint. */
    record Template(Path dir, Map<String, byte[]> files, List<Path> segments, List<Long> bases, List<Integer> sizes,
                    List<BatchAt> batches, List<Rec> written, long recoveryPoint) {

        /** Writes the template's files into a new directory (from memory: cases copy it a thousand times). */
        Path copyTo(Path to) throws IOException {
            Files.createDirectories(to);
            for (Map.Entry<String, byte[]> f : files.entrySet()) {
                Files.write(to.resolve(f.getKey()), f.getValue());
            }
            return to;
        }

        boolean trusted(int segment) {
            return segment < segments.size() - 1 && bases.get(segment + 1) <= recoveryPoint;
        }

        int recordsBefore(int segment, int position) {
            int n = 0;
            for (BatchAt b : batches) {
                if (b.segment() < segment || (b.segment() == segment && b.end() <= position)) {
                    n += b.recordCount();
                }
            }
            return n;
        }

        /** First offset whose batch lies at or after the position (the next segment's base if none in this one). */
        long firstOffsetFrom(int segment, int position) {
            for (BatchAt b : batches) {
                if (b.segment() > segment || (b.segment() == segment && b.end() > position)) {
                    return b.firstOffset();
                }
            }
            return Long.MAX_VALUE;
        }

        BatchAt batchHolding(int segment, int position) {
            for (BatchAt b : batches) {
                if (b.segment() == segment && b.position() <= position && position < b.end()) {
                    return b;
                }
            }
            return null;
        }
    }

    /**
     * Writes about 9 KB: 60 batches of 1 to 4 records (some gzip-compressed) with values of varied length,
     * record at offset o keyed {@code k-o}. With {@code checkpointAtFraction} &gt; 0 the log is
     * flushed and checkpointed at that fraction of the batches, else the checkpoint is deleted.
     * Closed uncleanly either way.
     */
    private Template writeTemplate(Path dir, long seed, double checkpointAtFraction) throws IOException {
        Random random = new Random(seed);
        int batchCount = 60;
        int checkpointAt = (int) (batchCount * checkpointAtFraction);
        long recoveryPoint = 0;
        Log log = Log.open(dir, CONFIG, StorageIo.SYSTEM, clock);
        try {
            for (int b = 0; b < batchCount; b++) {
                if (checkpointAt > 0 && b == checkpointAt) {
                    recoveryPoint = log.flushBlocking();
                    log.writeCheckpoint();
                }
                long first = log.logEndOffset();
                SimpleRecord[] recs = new SimpleRecord[1 + random.nextInt(4)];
                for (int i = 0; i < recs.length; i++) {
                    long o = first + i;
                    recs[i] = record("k-" + o, "v-" + o + "-" + "x".repeat(random.nextInt(40)), TIMESTAMP_BASE_MS + o);
                }
                Compression compression = random.nextInt(5) == 0 ? Compression.gzip().build() : Compression.NONE;
                log.append(Batches.batch(compression, recs), 0);
            }
            if (checkpointAt == batchCount) {
                recoveryPoint = log.flushBlocking();
                log.writeCheckpoint();
            }
            if (checkpointAt == 0) {
                Files.delete(dir.resolve(Log.CHECKPOINT_FILE));
            }
        } finally {
            log.closeUncleanly();
        }
        assertThat(Files.exists(dir.resolve(Log.CLEAN_SHUTDOWN_FILE))).isFalse();
        return describe(dir, recoveryPoint);
    }

    /** Reads the template's files directly, without the log, as the ground truth. */
    private static Template describe(Path dir, long recoveryPoint) throws IOException {
        List<Path> segments;
        try (Stream<Path> files = Files.list(dir)) {
            segments = files.filter(f -> f.getFileName().toString().endsWith(Segment.LOG_SUFFIX)).sorted().toList();
        }
        List<Long> bases = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        List<BatchAt> batches = new ArrayList<>();
        List<Rec> written = new ArrayList<>();
        for (int s = 0; s < segments.size(); s++) {
            Path f = segments.get(s);
            bases.add(Long.parseLong(f.getFileName().toString().substring(0, 20)));
            byte[] bytes = Files.readAllBytes(f);
            sizes.add(bytes.length);
            int pos = 0;
            for (RecordBatch batch : MemoryRecords.readableRecords(ByteBuffer.wrap(bytes)).batches()) {
                List<Rec> recs = Batches.records(MemoryRecords.readableRecords(ByteBuffer.wrap(bytes, pos, batch.sizeInBytes()).slice()));
                batches.add(new BatchAt(s, pos, batch.sizeInBytes(), batch.baseOffset(), recs.size()));
                written.addAll(recs);
                pos += batch.sizeInBytes();
            }
            assertThat(pos).as("template segment %s is whole batches", f).isEqualTo(bytes.length);
        }
        for (int i = 0; i < written.size(); i++) {
            assertThat(written.get(i).offset()).isEqualTo(i);
        }
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> all = Files.list(dir)) {
            for (Path f : (Iterable<Path>) all::iterator) {
                files.put(f.getFileName().toString(), Files.readAllBytes(f));
            }
        }
        return new Template(dir, files, segments, bases, sizes, batches, written, recoveryPoint);
    }

    // ---------------------------------------------------------------- damage

    enum Kind { TRUNCATE, FLIP, GARBAGE }

    /**
     * What a case did to the copy: the first damaged byte in log order, every damaged segment, and
     * a description.
     */
    record Damage(Kind kind, int segment, int position, List<int[]> points, String description) {

        Damage(Kind kind, int segment, int position, String description) {
            this(kind, segment, position, List.<int[]>of(new int[] {segment, position}), description);
        }

        List<Integer> segments() {
            return points.stream().map(p -> p[0]).distinct().toList();
        }
    }

    private static Damage damage(Template t, Path copy, Random random) throws IOException {
        Kind kind = Kind.values()[random.nextInt(Kind.values().length)];
        long total = t.sizes().stream().mapToLong(Integer::longValue).sum();
        switch (kind) {
            case TRUNCATE -> {
                int[] at = locate(t, (long) (random.nextDouble() * total));
                try (FileChannel ch = FileChannel.open(copy.resolve(t.segments().get(at[0]).getFileName()),
                        StandardOpenOption.WRITE)) {
                    ch.truncate(at[1]);
                }
                return new Damage(kind, at[0], at[1], "truncated segment " + at[0] + " to " + at[1] + " bytes");
            }
            case FLIP -> {
                int flips = 1 + random.nextInt(4);
                int[] first = null;
                List<int[]> damaged = new ArrayList<>();
                StringBuilder what = new StringBuilder("flipped");
                for (int i = 0; i < flips; i++) {
                    int[] at = locate(t, (long) (random.nextDouble() * total));
                    Path f = copy.resolve(t.segments().get(at[0]).getFileName());
                    byte[] bytes = Files.readAllBytes(f);
                    int mask = 1 + random.nextInt(255);
                    bytes[at[1]] ^= (byte) mask;
                    Files.write(f, bytes);
                    what.append(" segment ").append(at[0]).append(" byte ").append(at[1]).append(" ^0x")
                            .append(Integer.toHexString(mask)).append(';');
                    damaged.add(at);
                    if (first == null || at[0] < first[0] || (at[0] == first[0] && at[1] < first[1])) {
                        first = at;
                    }
                }
                return new Damage(kind, first[0], first[1], damaged, what.toString());
            }
            case GARBAGE -> {
                int segment = random.nextInt(t.segments().size());
                byte[] garbage = new byte[1 + random.nextInt(200)];
                random.nextBytes(garbage);
                Files.write(copy.resolve(t.segments().get(segment).getFileName()), garbage, StandardOpenOption.APPEND);
                return new Damage(kind, segment, t.sizes().get(segment),
                        "appended " + garbage.length + " random bytes to segment " + segment);
            }
            default -> throw new IllegalStateException();
        }
    }

    /** (segment, position in it) of a byte position in the concatenated segments. */
    private static int[] locate(Template t, long globalPosition) {
        long p = globalPosition;
        for (int s = 0; s < t.sizes().size(); s++) {
            if (p < t.sizes().get(s)) {
                return new int[] {s, (int) p};
            }
            p -= t.sizes().get(s);
        }
        throw new IllegalArgumentException("Position " + globalPosition + " is beyond the log");
    }

    // ---------------------------------------------------------------- the random cases

    @Test
    void randomDamageIsRecoveredToAPrefixOfWhatWasWrittenOrRefused() throws Exception {
        Template scanned = writeTemplate(tmp.resolve("template-scanned"), RUN_SEED, 0);
        Template checkpointed = writeTemplate(tmp.resolve("template-checkpointed"), RUN_SEED, 0.6);
        assertThat(scanned.segments()).hasSizeGreaterThan(5);
        assertThat(checkpointed.recoveryPoint()).isPositive();

        int[] outcomes = new int[5];
        if (ONE_SEED != null) {
            runCase(ONE_SEED % 2 == 0 ? scanned : checkpointed, ONE_SEED, outcomes);
            return;
        }
        Random seeds = new Random(RUN_SEED);
        for (int i = 0; i < CASES; i++) {
            long seed = seeds.nextLong();
            runCase(seed % 2 == 0 ? scanned : checkpointed, seed, outcomes);
        }
        System.out.printf("CorruptionRecoveryTest: %d cases (run seed %d): %d opened whole, %d recovered a prefix,"
                + " %d refused to open, %d found by verifyAll, %d undetectable by design%n", CASES, RUN_SEED,
                outcomes[0], outcomes[1], outcomes[2], outcomes[3], outcomes[4]);
    }

    private void runCase(Template t, long seed, int[] outcomes) throws Exception {
        Path copy = t.copyTo(scratch.resolve("case"));
        Damage damage = null;
        try {
            damage = damage(t, copy, new Random(seed));
            outcomes[check(t, copy, damage)]++;
        } catch (AssertionError | Exception e) {
            throw new AssertionError("Corruption case with seed " + seed + " (" + (t.recoveryPoint() == 0
                    ? "no checkpoint" : "recovery point " + t.recoveryPoint()) + "; "
                    + (damage == null ? "?" : damage.description()) + ") failed; replay with -Drunnel.corruption.seed="
                    + seed + " -Drunnel.corruption.run.seed=" + RUN_SEED, e);
        } finally {
            TestFiles.deleteTree(copy);
        }
    }

    /**
     * Opens the damaged copy and checks the rules; returns 0 (nothing lost), 1 (a prefix), 2 (refused
     * to open), 3 (trusted damage found by verifyAll) or 4 (a damage the log cannot detect by design).
     */
    private int check(Template t, Path copy, Damage damage) throws IOException {
        long threatened = t.firstOffsetFrom(damage.segment(), damage.position());
        boolean anyTrusted = damage.segments().stream().anyMatch(t::trusted);
        boolean durableThreatened = threatened < t.recoveryPoint() || anyTrusted;
        int intact = intactRecords(t, damage);
        List<String> damagedFiles = damage.segments().stream()
                .map(s -> t.segments().get(s).getFileName().toString()).toList();

        List<byte[]> damagedBytes = segmentBytes(t, copy);
        Log log;
        try {
            log = Log.open(copy, CONFIG, StorageIo.SYSTEM, clock);
        } catch (CorruptLogException e) {
            assertThat(durableThreatened).as("refused to open (%s) though the damage threatens no durable record"
                    + " (first threatened offset %s, recovery point %s)", e.getMessage(), threatened,
                    t.recoveryPoint()).isTrue();
            assertNamesOneOf(e, damagedFiles);
            // A refusal leaves the segments as it found them, for an operator, and so refuses again.
            List<byte[]> after = segmentBytes(t, copy);
            for (int s = 0; s < after.size(); s++) {
                if (!java.util.Arrays.equals(after.get(s), damagedBytes.get(s))) {
                    throw new AssertionError("Segment " + s + " changed in the open that refused with: " + e.getMessage());
                }
            }
            assertThatThrownBy(() -> Log.open(copy, CONFIG, StorageIo.SYSTEM, clock).close())
                    .as("a second open").isInstanceOf(CorruptLogException.class);
            return 2;
        }
        try {
            if (anyTrusted) {
                // Trusted segments: framing checked at open, CRCs by verifyAll (see the class comment).
                try {
                    log.verifyAll();
                } catch (CorruptLogException e) {
                    assertNamesOneOf(e, damagedFiles);
                    return 3;
                }
            }
            List<Rec> served = Batches.readAll(log, 0);
            if (anyTrusted && isTrustedCutAtBatchBoundary(t, damage)) {
                // Undetectable by design (see the class comment): the cut batches are simply missing.
                List<Rec> expected = new ArrayList<>(t.written());
                expected.removeIf(r -> batchOf(t, r.offset()).segment() == damage.segment()
                        && batchOf(t, r.offset()).position() >= damage.position());
                assertThat(served).as("a trusted segment cut between batches").isEqualTo(expected);
                return 4;
            }
            Optional<BatchAt> shifted = shiftedLastBatch(t, damage, served);
            if (shifted.isPresent()) {
                // Undetectable by design (see the class comment); everything before that batch is intact.
                assertThat(log.verifyAll()).isEqualTo(served.size());
                return 4;
            }
            assertPrefixOfWritten(served, t.written());
            assertThat(served.size()).as("records wholly before the first damaged byte are kept")
                    .isGreaterThanOrEqualTo(intact);
            assertThat(log.logEndOffset()).as("log end").isEqualTo(served.size());
            assertThat((long) served.size()).as("durable records are kept").isGreaterThanOrEqualTo(t.recoveryPoint());
            assertThat(log.verifyAll()).isEqualTo(served.size());

            long end = log.logEndOffset();
            MemoryRecords next = Batches.batch(record("k-" + end, "after-recovery", TIMESTAMP_BASE_MS + end));
            assertThat(log.append(next, 0).firstOffset()).isEqualTo(end);
            log.close();
            try (Log again = Log.open(copy, CONFIG, StorageIo.SYSTEM, clock)) {
                List<Rec> reread = Batches.readAll(again, 0);
                assertThat(reread.subList(0, served.size())).as("after a clean reopen").isEqualTo(served);
                assertThat(reread.get(served.size()).value()).isEqualTo("after-recovery");
                assertThat(again.verifyAll()).isEqualTo(served.size() + 1);
            }
            return served.size() == t.written().size() ? 0 : 1;
        } finally {
            log.closeUncleanly();
        }
    }

    /**
     * The records wholly before the first damaged byte, less one batch for damage in a base offset
     * field: a base offset that goes backwards makes recovery cut the batch before it too, since
     * either of the two may carry the damaged offset.
     */
    private static int intactRecords(Template t, Damage damage) {
        int intact = Integer.MAX_VALUE;
        for (int[] p : damage.points()) {
            int position = p[1];
            BatchAt hit = t.batchHolding(p[0], position);
            if (hit != null && position - hit.position() < 8) {
                BatchAt before = t.batches().stream()
                        .filter(b -> b.segment() == p[0] && b.end() == hit.position()).findFirst().orElse(null);
                if (before != null) {
                    position = before.position();
                }
            }
            intact = Math.min(intact, t.recordsBefore(p[0], position));
        }
        return intact;
    }

    /**
     * The batch whose records {@code served} ends with, moved to higher offsets, if that is all
     * that differs from a prefix of what was written and the damage hit that batch's base offset.
     */
    private static Optional<BatchAt> shiftedLastBatch(Template t, Damage damage, List<Rec> served) {
        int prefix = 0;
        while (prefix < served.size() && prefix < t.written().size() && served.get(prefix).equals(t.written().get(prefix))) {
            prefix++;
        }
        if (prefix == served.size() || prefix >= t.written().size()) {
            return Optional.empty();
        }
        BatchAt b = batchOf(t, prefix);
        boolean baseOffsetHit = damage.kind() == Kind.FLIP && damage.points().stream()
                .anyMatch(p -> p[0] == b.segment() && p[1] >= b.position() && p[1] < b.position() + 8);
        if (!baseOffsetHit || b.firstOffset() != prefix || served.size() != prefix + b.recordCount()) {
            return Optional.empty();
        }
        long shift = served.get(prefix).offset() - prefix;
        for (int i = 0; i < b.recordCount(); i++) {
            Rec w = t.written().get(prefix + i);
            if (shift <= 0 || !served.get(prefix + i).equals(new Rec(w.offset() + shift, w.key(), w.value(), w.timestamp()))) {
                return Optional.empty();
            }
        }
        return Optional.of(b);
    }

    private static boolean isTrustedCutAtBatchBoundary(Template t, Damage damage) {
        return damage.kind() == Kind.TRUNCATE && t.trusted(damage.segment())
                && t.batches().stream().anyMatch(b -> b.segment() == damage.segment() && b.position() == damage.position());
    }

    private static BatchAt batchOf(Template t, long offset) {
        return t.batches().stream()
                .filter(b -> b.firstOffset() <= offset && offset < b.firstOffset() + b.recordCount())
                .findFirst().orElseThrow();
    }

    private static List<byte[]> segmentBytes(Template t, Path copy) throws IOException {
        List<byte[]> out = new ArrayList<>();
        for (Path f : t.segments()) {
            Path p = copy.resolve(f.getFileName());
            out.add(Files.exists(p) ? Files.readAllBytes(p) : null);
        }
        return out;
    }

    private static void assertNamesOneOf(CorruptLogException e, List<String> damagedFiles) {
        if (damagedFiles.stream().noneMatch(e.getMessage()::contains)) {
            throw new AssertionError("The error names none of the damaged files " + damagedFiles + ": " + e.getMessage(), e);
        }
    }

    private static void assertPrefixOfWritten(List<Rec> served, List<Rec> written) {
        assertThat(served.size()).as("records served").isLessThanOrEqualTo(written.size());
        for (int i = 0; i < served.size(); i++) {
            if (!served.get(i).equals(written.get(i))) {
                throw new AssertionError("Served record " + i + " is " + served.get(i) + ", but the record written"
                        + " there was " + written.get(i));
            }
        }
    }

    // ---------------------------------------------------------------- specific cases

    @Test
    void damageInAMiddleSegmentBelowTheRecoveryPointRefusesToOpenAndNamesTheFile() throws Exception {
        Template t = writeTemplate(tmp.resolve("template"), 42, 0.8);
        int middle = t.segments().size() / 2;
        assertThat(t.trusted(middle)).as("the middle segment lies below the recovery point").isTrue();
        String name = t.segments().get(middle).getFileName().toString();

        // Cut in the middle of a batch: the segment no longer ends on a batch boundary.
        Path cut = TestFiles.copyDir(t.dir(), tmp.resolve("cut"));
        BatchAt victim = t.batches().stream().filter(b -> b.segment() == middle).findFirst().orElseThrow();
        try (FileChannel ch = FileChannel.open(cut.resolve(name), StandardOpenOption.WRITE)) {
            ch.truncate(victim.position() + victim.sizeBytes() / 2);
        }
        assertThatThrownBy(() -> Log.open(cut, CONFIG, StorageIo.SYSTEM, clock))
                .isInstanceOf(CorruptLogException.class)
                .hasMessageContaining(name);

        // Garbage where its last batch ended.
        Path tail = TestFiles.copyDir(t.dir(), tmp.resolve("tail"));
        Files.write(tail.resolve(name), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, StandardOpenOption.APPEND);
        assertThatThrownBy(() -> Log.open(tail, CONFIG, StorageIo.SYSTEM, clock))
                .isInstanceOf(CorruptLogException.class)
                .hasMessageContaining(name);

        // The segment holding the recovery point is scanned: a bad CRC below the point refuses too.
        int holding = 0;
        while (holding + 1 < t.bases().size() && t.bases().get(holding + 1) <= t.recoveryPoint()) {
            holding++;
        }
        BatchAt durable = t.batches().stream()
                .filter(b -> b.firstOffset() < t.recoveryPoint())
                .reduce((a, b) -> b).orElseThrow();
        assertThat(durable.segment()).isEqualTo(holding);
        Path flipped = TestFiles.copyDir(t.dir(), tmp.resolve("flipped"));
        Path holdingFile = flipped.resolve(t.segments().get(holding).getFileName());
        byte[] bytes = Files.readAllBytes(holdingFile);
        bytes[durable.end() - 1] ^= 0x40;
        Files.write(holdingFile, bytes);
        assertThatThrownBy(() -> Log.open(flipped, CONFIG, StorageIo.SYSTEM, clock))
                .isInstanceOf(CorruptLogException.class)
                .hasMessageContaining(t.segments().get(holding).getFileName().toString())
                .hasMessageContaining("recovery point");

        // A flipped byte inside a record of a trusted segment: the open checks framing only there,
        // so it opens, and verifyAll (the full CRC scan) names the file.
        Path payload = TestFiles.copyDir(t.dir(), tmp.resolve("payload"));
        byte[] middleBytes = Files.readAllBytes(payload.resolve(name));
        middleBytes[victim.end() - 2] ^= 0x01;
        Files.write(payload.resolve(name), middleBytes);
        try (Log log = Log.open(payload, CONFIG, StorageIo.SYSTEM, clock)) {
            assertThatThrownBy(log::verifyAll).isInstanceOf(CorruptLogException.class).hasMessageContaining(name)
                    .hasMessageContaining("CRC");
        }

        // And the undamaged template opens with everything.
        try (Log log = Log.open(TestFiles.copyDir(t.dir(), tmp.resolve("whole")), CONFIG, StorageIo.SYSTEM, clock)) {
            assertThat(Batches.readAll(log, 0)).isEqualTo(t.written());
        }
    }

    @Test
    void durableRecordsCutAwayBetweenBatchesRefuseToOpen() throws Exception {
        // Every record is durable; the last segment loses its last batches at a batch boundary, so
        // every batch left is whole and valid. Only the recovery point tells that records are missing.
        Template t = writeTemplate(tmp.resolve("template"), 11, 1.0);
        int last = t.segments().size() - 1;
        List<BatchAt> lastBatches = t.batches().stream().filter(b -> b.segment() == last).toList();
        assertThat(lastBatches).hasSizeGreaterThan(1);
        Path copy = TestFiles.copyDir(t.dir(), tmp.resolve("cut"));
        String name = t.segments().get(last).getFileName().toString();
        try (FileChannel ch = FileChannel.open(copy.resolve(name), StandardOpenOption.WRITE)) {
            ch.truncate(lastBatches.get(1).position());
        }
        assertThatThrownBy(() -> Log.open(copy, CONFIG, StorageIo.SYSTEM, clock).close())
                .isInstanceOf(CorruptLogException.class)
                .hasMessageContaining(name)
                .hasMessageContaining("recovery point");

        // The same with the whole last segment gone.
        Path gone = TestFiles.copyDir(t.dir(), tmp.resolve("gone"));
        for (String suffix : List.of(Segment.LOG_SUFFIX, Segment.INDEX_SUFFIX, Segment.TIME_INDEX_SUFFIX)) {
            Files.delete(gone.resolve(name.replace(Segment.LOG_SUFFIX, suffix)));
        }
        assertThatThrownBy(() -> Log.open(gone, CONFIG, StorageIo.SYSTEM, clock).close())
                .isInstanceOf(CorruptLogException.class)
                .hasMessageContaining("recovery point");
    }

    @Test
    void aGarbageIndexIsRebuiltAndReadsStillWork() throws Exception {
        for (double checkpoint : new double[] {0, 1.0}) {
            Template t = writeTemplate(tmp.resolve("template-" + checkpoint), 7, checkpoint);
            Random random = new Random(7);
            for (int s = 0; s < t.segments().size(); s++) {
                Path copy = TestFiles.copyDir(t.dir(), tmp.resolve("garbage-" + checkpoint + "-" + s));
                String log = t.segments().get(s).getFileName().toString();
                byte[] garbage = new byte[8 * (1 + random.nextInt(6))];
                random.nextBytes(garbage);
                Files.write(copy.resolve(log.replace(Segment.LOG_SUFFIX, Segment.INDEX_SUFFIX)), garbage);
                Files.write(copy.resolve(log.replace(Segment.LOG_SUFFIX, Segment.TIME_INDEX_SUFFIX)),
                        new byte[] {1, 2, 3});
                assertReadsEverythingAndEveryOffset(t, copy, "garbage index of segment " + s);
            }
        }
    }

    @Test
    void anIndexPointingInsideABatchIsRebuiltNotTrusted() throws Exception {
        // A well-formed index file (ascending entries within the segment) whose entries are not batch starts.
        Template t = writeTemplate(tmp.resolve("template"), 9, 1.0);
        int s = 1;
        assertThat(t.trusted(s)).isTrue();
        BatchAt second = t.batches().stream().filter(b -> b.segment() == s).skip(1).findFirst().orElseThrow();
        Path copy = TestFiles.copyDir(t.dir(), tmp.resolve("lying"));
        ByteBuffer entry = ByteBuffer.allocate(OffsetIndex.ENTRY_BYTES);
        entry.putInt((int) (second.firstOffset() - t.bases().get(s))).putInt(second.position() + 5).flip();
        String log = t.segments().get(s).getFileName().toString();
        Files.write(copy.resolve(log.replace(Segment.LOG_SUFFIX, Segment.INDEX_SUFFIX)), entry.array());
        assertReadsEverythingAndEveryOffset(t, copy, "index entry inside a batch");
    }

    private void assertReadsEverythingAndEveryOffset(Template t, Path copy, String what) throws IOException {
        try (Log log = Log.open(copy, CONFIG, StorageIo.SYSTEM, clock)) {
            List<Rec> all = Batches.readAll(log, 0);
            assertPrefixOfWritten(all, t.written());
            assertThat(all.size()).as(what).isEqualTo(t.written().size());
            for (Rec r : t.written()) {
                List<Rec> from = Batches.records(log.read(r.offset(), 1, Long.MAX_VALUE).readRecords());
                assertThat(from).as("%s: a read at offset %s", what, r.offset()).contains(r);
            }
            assertThat(log.offsetForTimestamp(TIMESTAMP_BASE_MS + t.written().size() / 2))
                    .as(what).hasValueSatisfying(o -> assertThat(o.offset()).isEqualTo(t.written().size() / 2));
            assertThat(log.verifyAll()).isEqualTo(t.written().size());
        }
    }

}
