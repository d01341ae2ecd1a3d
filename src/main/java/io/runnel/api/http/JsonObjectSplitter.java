package io.runnel.api.http;

import io.vertx.core.buffer.Buffer;

/**
 * Splits a byte stream of concatenated JSON objects ({@code {…}{…}}, optionally separated by
 * whitespace) into one buffer per top-level object, as the bytes arrive, without parsing them.
 *
 * <p>Why not a streaming JSON parser: a parser that meets a syntax error cannot go on, so one
 * malformed record would end a long stream. Splitting only needs to know where an object ends —
 * count {@code {} and {@code }} outside strings, with backslash escapes inside strings — so an
 * object that is broken inside but balanced is handed on as it is (its parse fails on its own)
 * and the next one is read normally. Only bytes that cannot start an object (anything but
 * whitespace or {@code {} between objects) leave no way to find the next one: the splitter then
 * reports {@link Sink#unsplittable} once and ignores everything after.
 *
 * <p>Works on bytes: the structural characters are ASCII, and UTF-8 never uses ASCII byte values
 * inside a multi-byte character, so no decoding is needed to split.
 *
 * <p>Limit: an object longer than {@code maxObjectBytes} is not kept: its bytes are skipped to its
 * end and {@link Sink#tooLarge} reported in its place, so one huge record costs no memory.
 *
 * <p>Invariants: {@code depth == 0} exactly between objects; {@code current} holds the bytes of
 * the object being read (null between objects and while skipping one); after {@code unsplittable}
 * nothing more is reported. Not thread-safe: one request's context feeds it.
 */
final class JsonObjectSplitter {

    /** Where the pieces go, in stream order. */
    interface Sink {
        /** One complete top-level object's bytes, from its {@code {} to its {@code }}. */
        void object(Buffer json);

        /** An object longer than the limit was skipped. */
        void tooLarge(long maxObjectBytes);

        /** The stream cannot be split any further; {@code why} says what was found. Reported at most once. */
        void unsplittable(String why);
    }

    private final long maxObjectBytes;
    private final Sink sink;
    private Buffer current;
    private boolean skipping;
    private long objectBytes;
    private int depth;
    private boolean inString;
    private boolean escaped;
    private boolean failed;
    private long position;

    JsonObjectSplitter(long maxObjectBytes, Sink sink) {
        if (maxObjectBytes < 2) {
            throw new IllegalArgumentException("maxObjectBytes must be at least 2 (\"{}\"), not " + maxObjectBytes);
        }
        this.maxObjectBytes = maxObjectBytes;
        this.sink = sink;
    }

    /** True once the stream could not be split; later input is ignored. */
    boolean failed() {
        return failed;
    }

    /** Reads the next bytes of the stream, reporting every object they complete. */
    void feed(Buffer chunk) {
        int start = depth > 0 ? 0 : -1; // where the current object's bytes begin in this chunk
        for (int i = 0; i < chunk.length() && !failed; i++, position++) {
            byte b = chunk.getByte(i);
            if (depth == 0) {
                if (b == ' ' || b == '\n' || b == '\r' || b == '\t') {
                    continue;
                }
                if (b != '{') {
                    failed = true;
                    sink.unsplittable("expected a JSON object ('{') at byte " + position + " of the body, found "
                            + describe(b) + "; records after it cannot be read");
                    return;
                }
                depth = 1;
                objectBytes = 0;
                inString = false;
                escaped = false;
                skipping = false;
                current = Buffer.buffer();
                start = i;
            } else if (inString) {
                if (escaped) {
                    escaped = false;
                } else if (b == '\\') {
                    escaped = true;
                } else if (b == '"') {
                    inString = false;
                }
            } else if (b == '"') {
                inString = true;
            } else if (b == '{') {
                depth++;
            } else if (b == '}') {
                depth--;
            }
            objectBytes++;
            if (!skipping && objectBytes > maxObjectBytes) {
                skipping = true;
                current = null;
            }
            if (depth == 0) {
                if (skipping) {
                    sink.tooLarge(maxObjectBytes);
                } else {
                    current.appendBuffer(chunk, start, i + 1 - start);
                    Buffer object = current;
                    current = null;
                    sink.object(object);
                }
                start = -1;
            }
        }
        if (depth > 0 && !skipping && start >= 0) {
            current.appendBuffer(chunk, start, chunk.length() - start);
        }
    }

    /** The stream has ended; an object still open is reported as unsplittable. */
    void finish() {
        if (!failed && depth > 0) {
            failed = true;
            current = null;
            sink.unsplittable("the body ended inside a record (" + depth + " '{' not closed)");
        }
    }

    private static String describe(byte b) {
        if (b >= 0x21 && b <= 0x7e) {
            return "'" + (char) b + "'";
        }
        return String.format("byte 0x%02x", b & 0xff);
    }
}
