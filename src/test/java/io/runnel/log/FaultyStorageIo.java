package io.runnel.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;

/**
 * The test twin of {@link StorageIo}: it delegates to {@link StorageIo#SYSTEM} and injects faults
 * chosen by the test, with any random choice (how much of a torn write lands) drawn from a seed.
 *
 * <p>The model. Every <em>mutating operation</em> is counted, in the order the log makes it: a
 * write, a {@code force} (fsync) of a file, a {@code syncDirectory}, a truncate, a move, a delete,
 * an open that may create its file, a directory creation. Reads, lists and {@code exists} are not
 * counted. Three kinds of fault can be armed:
 * <ul>
 *   <li><b>Crash</b> ({@link #crashAtOperation}): the Nth mutating operation from now is not
 *       performed; it throws {@link SimulatedCrash}, and so does every later call of any kind,
 *       on this object and on every channel it opened, reads included. The files stay exactly as
 *       they were before that operation. That is what a process crash leaves: the page cache
 *       keeps every write the process completed, fsynced or not. (A power failure, which can lose
 *       unsynced bytes, is not modelled.) Closing a channel still works, as the kernel closes a
 *       dead process's files without changing them.</li>
 *   <li><b>Torn write</b> ({@link #tearWrite}): the Nth write from now (to a file the predicate
 *       accepts) writes only a prefix of its bytes, of a length drawn from the seed (possibly
 *       zero, never all), then throws {@link IOException}, as a full disk or a failing device
 *       does. Later operations work.</li>
 *   <li><b>Fsync failure</b> ({@link #failForce}): the Nth force or directory sync from now (of a
 *       path the predicate accepts) does nothing and throws {@link IOException}.</li>
 * </ul>
 * Each fault fires once. {@link #operations()} counts mutating operations since construction, so
 * a fault-free dry run tells how many operations a piece of work takes; {@link #history()} lists
 * them, for assertions and for failure messages.
 *
 * <p>Thread-safe: every entry point synchronizes on this object, so a flush on a worker and an
 * append on the owner are counted in one order.
 */
final class FaultyStorageIo implements StorageIo {

    /** Thrown at and after the crash point. Unchecked, so no handler in the log can mistake it for an I/O error it may recover from. */
    static final class SimulatedCrash extends RuntimeException {
        SimulatedCrash(String message) {
            super(message);
        }
    }

    /** One mutating operation, as {@link #history()} reports it. */
    record Operation(long number, String kind, Path path) {
        @Override
        public String toString() {
            return "#" + number + " " + kind + " " + path.getFileName();
        }
    }

    private static final int HISTORY_MAX = 100_000;
    private static final Predicate<Path> ANY_FILE = p -> true;

    private final StorageIo delegate = StorageIo.SYSTEM;
    private final Random random;
    private final List<Operation> history = new ArrayList<>();
    private long operations;

    private long crashAt = -1;
    private boolean crashed;
    private String crashCause;

    private int writesUntilTear;
    private Predicate<Path> tearFiles = ANY_FILE;
    private int forcesUntilFailure;
    private Predicate<Path> forceFiles = ANY_FILE;

    FaultyStorageIo(long seed) {
        this.random = new Random(seed);
    }

    // ---------------------------------------------------------------- arming faults

    /** The {@code n}th mutating operation from now (1 = the next one) crashes instead of running. */
    synchronized FaultyStorageIo crashAtOperation(long n) {
        if (n < 1) {
            throw new IllegalArgumentException("Crash point must be at least 1, was " + n);
        }
        crashAt = operations + n;
        return this;
    }

    /** The {@code n}th write from now to a file {@code files} accepts lands only in part, then fails. */
    synchronized FaultyStorageIo tearWrite(int n, Predicate<Path> files) {
        if (n < 1) {
            throw new IllegalArgumentException("Torn write must be at least the next one, was " + n);
        }
        writesUntilTear = n;
        tearFiles = files;
        return this;
    }

    /** The {@code n}th force or directory sync from now of a path {@code paths} accepts fails. */
    synchronized FaultyStorageIo failForce(int n, Predicate<Path> paths) {
        if (n < 1) {
            throw new IllegalArgumentException("Failing fsync must be at least the next one, was " + n);
        }
        forcesUntilFailure = n;
        forceFiles = paths;
        return this;
    }

    /** Disarms every fault that has not fired yet (a crash that happened stays). */
    synchronized void clearFaults() {
        crashAt = -1;
        writesUntilTear = 0;
        forcesUntilFailure = 0;
    }

    synchronized long operations() {
        return operations;
    }

    synchronized boolean crashed() {
        return crashed;
    }

    /** The mutating operations so far, oldest first (the last {@value #HISTORY_MAX} of them). */
    synchronized List<Operation> history() {
        return List.copyOf(history);
    }

    /** The mutating operations after the first {@code from}, for a failure message. */
    synchronized List<Operation> historySince(long from) {
        return history.stream().filter(op -> op.number() > from).toList();
    }

    // ---------------------------------------------------------------- the fault model

    private synchronized void checkAlive() {
        if (crashed) {
            throw new SimulatedCrash("The process crashed earlier (at " + crashCause + ")");
        }
    }

    /** Counts a mutating operation; crashes instead if this is the crash point. */
    private synchronized void mutate(String kind, Path path) {
        checkAlive();
        operations++;
        Operation op = new Operation(operations, kind, path);
        if (operations == crashAt) {
            crashed = true;
            crashCause = op.toString();
            throw new SimulatedCrash("Simulated crash at operation " + op);
        }
        if (history.size() == HISTORY_MAX) {
            history.remove(0);
        }
        history.add(op);
    }

    /** For a write of {@code length} bytes: -1 to write it all, else how many bytes land before it fails. */
    private synchronized int tornLength(Path file, int length) {
        if (writesUntilTear <= 0 || !tearFiles.test(file)) {
            return -1;
        }
        if (--writesUntilTear > 0) {
            return -1;
        }
        return length == 0 ? 0 : random.nextInt(length);
    }

    private synchronized boolean forceFails(Path path) {
        if (forcesUntilFailure <= 0 || !forceFiles.test(path)) {
            return false;
        }
        return --forcesUntilFailure == 0;
    }

    // ---------------------------------------------------------------- StorageIo

    @Override
    public FileChannel open(Path file, boolean writable, boolean create) throws IOException {
        if (create) {
            mutate("open-create", file);
        } else {
            checkAlive();
        }
        return new FaultyChannel(file, delegate.open(file, writable, create));
    }

    @Override
    public void moveAtomically(Path from, Path to) throws IOException {
        mutate("move-to-" + to.getFileName(), from);
        delegate.moveAtomically(from, to);
    }

    @Override
    public void deleteIfExists(Path file) throws IOException {
        mutate("delete", file);
        delegate.deleteIfExists(file);
    }

    @Override
    public void syncDirectory(Path dir) throws IOException {
        mutate("sync-dir", dir);
        if (forceFails(dir)) {
            throw new IOException("Injected fsync failure of directory " + dir);
        }
        delegate.syncDirectory(dir);
    }

    @Override
    public List<Path> list(Path dir) throws IOException {
        checkAlive();
        return delegate.list(dir);
    }

    @Override
    public void createDirectories(Path dir) throws IOException {
        mutate("mkdirs", dir);
        delegate.createDirectories(dir);
    }

    @Override
    public boolean exists(Path file) {
        checkAlive();
        return delegate.exists(file);
    }

    /**
     * A {@link FileChannel} that delegates every method to a real one and applies the fault model
     * to writes, forces and truncates. Memory mapping for writing is refused: a write through a
     * mapping could not be counted.
     */
    private final class FaultyChannel extends FileChannel {

        private final Path file;
        private final FileChannel ch;

        FaultyChannel(Path file, FileChannel ch) {
            this.file = file;
            this.ch = ch;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            checkAlive();
            return ch.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            checkAlive();
            return ch.read(dsts, offset, length);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            checkAlive();
            return ch.read(dst, position);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            mutate("write", file);
            int torn = tornLength(file, src.remaining());
            if (torn < 0) {
                return ch.write(src);
            }
            ch.write(prefix(src, torn));
            throw new IOException("Injected torn write: " + torn + " of " + src.remaining() + " bytes reached " + file);
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            mutate("write", file);
            int torn = tornLength(file, src.remaining());
            if (torn < 0) {
                return ch.write(src, position);
            }
            ch.write(prefix(src, torn), position);
            throw new IOException("Injected torn write: " + torn + " of " + src.remaining() + " bytes reached "
                    + file + " at " + position);
        }

        /** A gathering write counts, and may tear, buffer by buffer. */
        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            long total = 0;
            for (int i = offset; i < offset + length; i++) {
                while (srcs[i].hasRemaining()) {
                    total += write(srcs[i]);
                }
            }
            return total;
        }

        private ByteBuffer prefix(ByteBuffer src, int length) {
            ByteBuffer p = src.duplicate();
            p.limit(p.position() + length);
            return p;
        }

        @Override
        public long position() throws IOException {
            checkAlive();
            return ch.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            checkAlive();
            ch.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            checkAlive();
            return ch.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            mutate("truncate-" + size, file);
            ch.truncate(size);
            return this;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            mutate("force", file);
            if (forceFails(file)) {
                throw new IOException("Injected fsync failure of " + file);
            }
            ch.force(metaData);
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            checkAlive();
            return ch.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            mutate("transfer-from", file);
            return ch.transferFrom(src, position, count);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            checkAlive();
            if (mode != MapMode.READ_ONLY) {
                throw new UnsupportedOperationException("FaultyStorageIo cannot count writes through a " + mode
                        + " mapping of " + file);
            }
            return ch.map(mode, position, size);
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            checkAlive();
            return ch.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            checkAlive();
            return ch.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            ch.close();
        }

        @Override
        public String toString() {
            return "FaultyChannel(" + file + ")";
        }
    }
}
