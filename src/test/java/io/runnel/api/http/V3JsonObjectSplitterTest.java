package io.runnel.api.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import io.vertx.core.buffer.Buffer;

/**
 * {@link JsonObjectSplitter}, the v3 produce stream's splitter, without a server: objects come out
 * whole and in order however the bytes are cut, braces and quotes inside strings do not confuse
 * it, an oversized object is skipped without ending the stream, and bytes that cannot start an
 * object end it once.
 */
class V3JsonObjectSplitterTest {

    /** What the splitter reported, in order: the objects' text, or TOO_LARGE, or UNSPLITTABLE: why. */
    static final class Recorded implements JsonObjectSplitter.Sink {
        final List<String> events = new ArrayList<>();

        @Override
        public void object(Buffer json) {
            events.add(json.toString(StandardCharsets.UTF_8));
        }

        @Override
        public void tooLarge(long maxObjectBytes) {
            events.add("TOO_LARGE");
        }

        @Override
        public void unsplittable(String why) {
            events.add("UNSPLITTABLE: " + why);
        }
    }

    static List<String> split(String stream, long maxObjectBytes, int[] cuts) {
        Recorded sink = new Recorded();
        JsonObjectSplitter splitter = new JsonObjectSplitter(maxObjectBytes, sink);
        byte[] bytes = stream.getBytes(StandardCharsets.UTF_8);
        int from = 0;
        for (int cut : cuts) {
            splitter.feed(Buffer.buffer().appendBytes(bytes, from, cut - from));
            from = cut;
        }
        splitter.feed(Buffer.buffer().appendBytes(bytes, from, bytes.length - from));
        splitter.finish();
        return sink.events;
    }

    static final List<String> TRICKY = List.of(
            "{\"a\":\"}\"}",
            "{\"b\":\"{{\"}",
            "{\"c\":\"say \\\"}\\\" \\\\\"}",
            "{\"d\":{\"e\":[{\"f\":\"é ☃ \\u007d\"}]}}",
            "{}");

    @Test
    void objectsComeOutWholeHoweverTheBytesAreCut() {
        String stream = String.join(" \n", TRICKY) + "\n";
        int length = stream.getBytes(StandardCharsets.UTF_8).length;
        long seed = System.nanoTime();
        Random random = new Random(seed);
        for (int round = 0; round < 200; round++) {
            int[] cuts = random.ints(random.nextInt(8), 0, length + 1).sorted().toArray();
            assertThat(split(stream, 1 << 10, cuts)).as("seed %d, cuts %s", seed, java.util.Arrays.toString(cuts))
                    .isEqualTo(TRICKY);
        }
        int[] everyByte = new int[length - 1];
        for (int i = 0; i < everyByte.length; i++) {
            everyByte[i] = i + 1;
        }
        assertThat(split(stream, 1 << 10, everyByte)).isEqualTo(TRICKY);
    }

    @Test
    void anOversizedObjectIsSkippedAndTheNextOneRead() {
        String big = "{\"v\":\"" + "x".repeat(100) + "\"}";
        assertThat(split("{\"a\":1}" + big + "{\"b\":2}", 50, new int[] {10, 40, 90}))
                .containsExactly("{\"a\":1}", "TOO_LARGE", "{\"b\":2}");
    }

    @Test
    void bytesThatCannotStartAnObjectEndTheStreamOnce() {
        List<String> events = split("{\"a\":1},{\"b\":2} x {\"c\":3}", 100, new int[0]);
        assertThat(events).hasSize(2);
        assertThat(events.get(0)).isEqualTo("{\"a\":1}");
        assertThat(events.get(1)).startsWith("UNSPLITTABLE: expected a JSON object ('{') at byte 7").contains("','");
    }

    @Test
    void aStreamEndingInsideAnObjectSaysSo() {
        assertThat(split("{\"a\":1}{\"b\":{", 100, new int[] {3})).containsExactly("{\"a\":1}",
                "UNSPLITTABLE: the body ended inside a record (2 '{' not closed)");
    }
}
