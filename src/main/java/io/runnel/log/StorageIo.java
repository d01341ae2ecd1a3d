package io.runnel.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The seam through which the log touches the file system. Every open, write, fsync, rename and
 * delete in {@code io.runnel.log} goes through one of these, so tests can inject I/O errors, torn
 * writes and crashes at any step (see the test twin {@code FaultyStorageIo}).
 *
 * <p>Thread-safe: the production instance is stateless.
 */
public interface StorageIo {

    /** Opens (creating if asked) a file for reading and, if {@code writable}, writing. */
    FileChannel open(Path file, boolean writable, boolean create) throws IOException;

    /** Renames atomically, replacing the target; the directory is fsynced afterwards by {@link #syncDirectory}. */
    void moveAtomically(Path from, Path to) throws IOException;

    /** Deletes a file if it exists. */
    void deleteIfExists(Path file) throws IOException;

    /** Makes renames and creations in a directory durable. */
    void syncDirectory(Path dir) throws IOException;

    /** The regular files directly inside {@code dir}. */
    List<Path> list(Path dir) throws IOException;

    /** Creates a directory and its parents. */
    void createDirectories(Path dir) throws IOException;

    /** Whether the file exists. */
    boolean exists(Path file);

    /** Writes a small file atomically: write a temporary, fsync it, rename over the target, fsync the directory. */
    default void writeAtomically(Path file, byte[] content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = open(tmp, true, true)) {
            ch.truncate(0);
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(content);
            while (buf.hasRemaining()) {
                ch.write(buf, buf.position());
            }
            ch.force(true);
        }
        moveAtomically(tmp, file);
        syncDirectory(file.getParent());
    }

    /** Reads a whole small file, or returns null if it does not exist. */
    default byte[] readIfExists(Path file) throws IOException {
        if (!exists(file)) {
            return null;
        }
        try (FileChannel ch = open(file, false, false)) {
            long size = ch.size();
            if (size > 1 << 20) {
                throw new IOException("Refusing to read " + size + " bytes of metadata from " + file);
            }
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) size);
            while (buf.hasRemaining()) {
                if (ch.read(buf, buf.position()) < 0) {
                    break;
                }
            }
            return buf.array();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** The real file system. */
    StorageIo SYSTEM = new StorageIo() {
        @Override
        public FileChannel open(Path file, boolean writable, boolean create) throws IOException {
            if (writable && create) {
                return FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE);
            }
            if (writable) {
                return FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            }
            return FileChannel.open(file, StandardOpenOption.READ);
        }

        @Override
        public void moveAtomically(Path from, Path to) throws IOException {
            try {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("The data directory's file system cannot rename atomically: " + from, e);
            }
        }

        @Override
        public void deleteIfExists(Path file) throws IOException {
            Files.deleteIfExists(file);
        }

        @Override
        public void syncDirectory(Path dir) throws IOException {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            } catch (IOException e) {
                // Some file systems refuse to open a directory; there is nothing more we can do there.
                if (!(e instanceof NoSuchFileException) && !Files.isDirectory(dir)) {
                    throw e;
                }
            }
        }

        @Override
        public List<Path> list(Path dir) throws IOException {
            List<Path> out = new ArrayList<>();
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(Files::isRegularFile).forEach(out::add);
            }
            return out;
        }

        @Override
        public void createDirectories(Path dir) throws IOException {
            Files.createDirectories(dir);
        }

        @Override
        public boolean exists(Path file) {
            return Files.exists(file);
        }
    };
}
