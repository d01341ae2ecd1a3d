package io.runnel.log;

import static io.runnel.log.Batches.batch;
import static io.runnel.log.Batches.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.SimpleRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.runnel.config.LogConfig;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * A follower finds where its log diverges from its new leader's with OffsetForLeaderEpoch
 * ({@link Log#endOffsetForEpoch} on the leader, {@link Log#truncationFor} on the follower),
 * truncates there, and then copies the leader's log until the two are the same bytes.
 *
 * <p>The property builds histories as a cluster makes them: the leader of each epoch starts from
 * a prefix of some earlier leader's log (what that replica had replicated when it was elected)
 * and appends in its own epoch; a follower holds a prefix of some leader's log. Records written
 * in one epoch at one offset are the same everywhere (one leader per epoch), so the logs agree
 * exactly on the longest prefix where their epochs agree offset by offset, and that is where the
 * follower must truncate: no further (it would serve records the leader does not have), no
 * shorter (it would drop records it need not refetch).
 */
class DivergenceTest {

    @TempDir
    Path tmp;

    final ManualClock clock = new ManualClock(1_000_000);

    /** Record {@code offset} written in {@code epoch}: the same bytes on every replica that has it. */
    static MemoryRecords records(long firstOffset, int count, int epoch) {
        SimpleRecord[] rs = new SimpleRecord[count];
        for (int i = 0; i < count; i++) {
            long offset = firstOffset + i;
            rs[i] = record("k" + offset, "e" + epoch + "-o" + offset, 1000 + offset);
        }
        return batch(rs);
    }

    static void write(Log log, int count, int epoch) {
        log.append(records(log.logEndOffset(), count, epoch), epoch);
    }

    /** What a follower's fetcher does: ask, truncate, until the truncation is final. Returns the final point. */
    static long reconcile(Log follower, Log leader) throws IOException {
        while (true) {
            EpochEndOffset answer = leader.endOffsetForEpoch(follower.latestEpoch());
            Log.Truncation t = follower.truncationFor(answer);
            follower.truncateTo(t.offset()).run();
            if (t.complete()) {
                return t.offset();
            }
        }
    }

    static void replicate(Log follower, Log leader) throws IOException {
        while (follower.logEndOffset() < leader.logEndOffset()) {
            MemoryRecords read = leader.read(follower.logEndOffset(), 1 << 16, leader.logEndOffset()).readRecords();
            ByteBuffer copy = ByteBuffer.allocate(read.sizeInBytes());
            copy.put(read.buffer().duplicate()).flip();
            follower.appendAsFollower(MemoryRecords.readableRecords(copy));
        }
    }

    static byte[] bytes(Log log) throws IOException {
        return Files.readAllBytes(log.dir().resolve(Segment.fileName(0, Segment.LOG_SUFFIX)));
    }

    Log open(String name) throws IOException {
        return Log.open(tmp.resolve(name), LogConfig.defaults(), StorageIo.SYSTEM, clock);
    }

    @Test
    void aFollowerDropsTheEpochOneTailThatTheOldLeaderLostAndTheNewLeaderNeverHad() throws Exception {
        try (Log a = open("a"); Log b = open("b"); Log c = open("c")) {
            // A leads epoch 1 and writes 0..14; B replicates all of it, C only 0..9.
            write(a, 10, 1);
            write(a, 5, 1);
            replicate(b, a);
            c.appendAsFollower(MemoryRecords.readableRecords(
                    ByteBuffer.wrap(java.util.Arrays.copyOf(bytes(a), bytesOfFirstBatch(a)))));
            assertThat(c.logEndOffset()).isEqualTo(10);
            // C leads epoch 2 and writes 10..12 in it; B's 10..14 of epoch 1 exist nowhere else now.
            write(c, 3, 2);

            EpochEndOffset answer = c.endOffsetForEpoch(b.latestEpoch());
            assertThat(answer).isEqualTo(new EpochEndOffset(1, 10));
            assertThat(b.truncationFor(answer)).isEqualTo(new Log.Truncation(10, true));
            assertThat(b.truncationOffsetFor(answer)).isEqualTo(10);

            b.truncateTo(10).run();
            replicate(b, c);
            assertThat(bytes(b)).isEqualTo(bytes(c));
            assertThat(b.epochEntries()).containsExactly(new EpochEntry(1, 0), new EpochEntry(2, 10));
        }
    }

    private static int bytesOfFirstBatch(Log log) throws IOException {
        return MemoryRecords.readableRecords(ByteBuffer.wrap(bytes(log))).batches().iterator().next().sizeInBytes();
    }

    @Test
    void aFollowerInAnEpochTheLeaderNeverHadAsksAgainWithItsEarlierEpoch() throws Exception {
        try (Log leader = open("leader"); Log follower = open("follower")) {
            // Leader: epoch 1 at 0..4, epoch 2 at 5..9, epoch 4 at 10..14.
            write(leader, 5, 1);
            write(leader, 5, 2);
            write(leader, 5, 4);
            // Follower: epoch 1 at 0..6 (two records the epoch 2 leader never got), epoch 3 at 7..11.
            write(follower, 5, 1);
            write(follower, 2, 1);
            write(follower, 5, 3);

            EpochEndOffset first = leader.endOffsetForEpoch(follower.latestEpoch());
            assertThat(first).isEqualTo(new EpochEndOffset(2, 10));
            assertThat(follower.truncationFor(first)).isEqualTo(new Log.Truncation(7, false));
            follower.truncateTo(7).run();

            EpochEndOffset second = leader.endOffsetForEpoch(follower.latestEpoch());
            assertThat(second).isEqualTo(new EpochEndOffset(1, 5));
            assertThat(follower.truncationFor(second)).isEqualTo(new Log.Truncation(5, true));
            follower.truncateTo(5).run();

            replicate(follower, leader);
            assertThat(bytes(follower)).isEqualTo(bytes(leader));
        }
    }

    @Test
    void aLeaderThatKnowsNoEarlierEpochSendsTheFollowerBackToItsLogStart() throws Exception {
        try (Log leader = open("leader"); Log follower = open("follower")) {
            write(leader, 3, 5);
            write(follower, 4, 2);
            assertThat(leader.endOffsetForEpoch(follower.latestEpoch())).isEqualTo(EpochEndOffset.UNDEFINED);
            assertThat(follower.truncationFor(EpochEndOffset.UNDEFINED)).isEqualTo(new Log.Truncation(0, true));
            assertThat(reconcile(follower, leader)).isZero();
            replicate(follower, leader);
            assertThat(bytes(follower)).isEqualTo(bytes(leader));
        }
    }

    @Test
    void aFollowerThatIsOnlyBehindKeepsEverything() throws Exception {
        try (Log leader = open("leader"); Log follower = open("follower")) {
            write(leader, 3, 1);
            replicate(follower, leader);
            write(leader, 3, 1);
            write(leader, 3, 2);
            assertThat(reconcile(follower, leader)).isEqualTo(3);
            assertThat(follower.logEndOffset()).isEqualTo(3);
        }
    }

    @Test
    void anAnswerAboveTheFollowersLatestEpochIsNotAnAnswerToItsQuestion() throws Exception {
        try (Log follower = open("follower")) {
            write(follower, 3, 1);
            assertThatThrownBy(() -> follower.truncationFor(new EpochEndOffset(2, 3)))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    // ---------------------------------------------------------------- the property

    /** A log as batches: {epoch, records} each, in order. */
    record History(List<List<int[]>> leaders, int followerOf, int followerBatches) {
        @Override
        public String toString() {
            StringBuilder out = new StringBuilder("History(follower has " + followerBatches + " batches of leader "
                    + (followerOf + 1) + "; leaders' batches as epoch x records:");
            for (int i = 0; i < leaders.size(); i++) {
                out.append(" L").append(i + 1).append('=');
                leaders.get(i).forEach(b -> out.append(b[0]).append('x').append(b[1]).append(','));
            }
            return out.append(')').toString();
        }
    }

    @Provide
    Arbitrary<History> histories() {
        return Arbitraries.randomValue(random -> {
            int epochs = 1 + random.nextInt(6);
            List<List<int[]>> leaders = new ArrayList<>();
            for (int e = 1; e <= epochs; e++) {
                List<int[]> log = new ArrayList<>();
                if (!leaders.isEmpty()) {
                    List<int[]> from = leaders.get(random.nextInt(leaders.size()));
                    log.addAll(from.subList(0, random.nextInt(from.size() + 1)));
                }
                int appends = random.nextInt(4);
                for (int i = 0; i < appends; i++) {
                    log.add(new int[] {e, 1 + random.nextInt(3)});
                }
                leaders.add(log);
            }
            int followerOf = random.nextInt(leaders.size());
            int followerBatches = random.nextInt(leaders.get(followerOf).size() + 1);
            return new History(leaders, followerOf, followerBatches);
        });
    }

    @Property(tries = 200)
    void theFollowerTruncatesExactlyToTheLongestPrefixWhereTheEpochsAgree(@ForAll("histories") History h)
            throws Exception {
        Path root = Files.createTempDirectory("divergence");
        try (Log leader = Log.open(root.resolve("leader"), LogConfig.defaults(), StorageIo.SYSTEM, clock);
             Log follower = Log.open(root.resolve("follower"), LogConfig.defaults(), StorageIo.SYSTEM, clock)) {
            List<int[]> leaderBatches = h.leaders().get(h.leaders().size() - 1);
            List<int[]> followerBatches = h.leaders().get(h.followerOf()).subList(0, h.followerBatches());
            for (int[] b : leaderBatches) {
                write(leader, b[1], b[0]);
            }
            for (int[] b : followerBatches) {
                write(follower, b[1], b[0]);
            }
            long agreed = commonPrefix(epochPerOffset(leaderBatches), epochPerOffset(followerBatches));

            assertThat(reconcile(follower, leader)).as("truncation point").isEqualTo(agreed);
            assertThat(follower.logEndOffset()).isEqualTo(agreed);
            replicate(follower, leader);
            assertThat(bytes(follower)).isEqualTo(bytes(leader));
            assertThat(follower.epochEntries()).isEqualTo(leader.epochEntries());
        } finally {
            TestFiles.deleteTree(root);
        }
    }

    static List<Integer> epochPerOffset(List<int[]> batches) {
        List<Integer> out = new ArrayList<>();
        for (int[] b : batches) {
            for (int i = 0; i < b[1]; i++) {
                out.add(b[0]);
            }
        }
        return out;
    }

    static long commonPrefix(List<Integer> a, List<Integer> b) {
        int n = 0;
        while (n < a.size() && n < b.size() && a.get(n).equals(b.get(n))) {
            n++;
        }
        return n;
    }
}
