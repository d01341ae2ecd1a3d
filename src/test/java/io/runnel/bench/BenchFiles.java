package io.runnel.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where the benchmarks put their files: a fresh directory per trial under the bench data root,
 * which is {@code $RUNNEL_BENCH_DIR} or else {@code target/bench-data} (relative to the directory
 * the runner starts in, the project root). The root must be on the disk a broker's data would be
 * on, because the write benchmarks measure that disk.
 *
 * <p>Every benchmark deletes its own directory in its trial tear-down; the runner script deletes
 * the root when it ends, so an aborted run leaves nothing behind either.
 */
final class BenchFiles {

    static final String ROOT_ENV = "RUNNEL_BENCH_DIR";

    private BenchFiles() {
    }

    static Path root() {
        String env = System.getenv(ROOT_ENV);
        return Path.of(env == null || env.isBlank() ? "target/bench-data" : env).toAbsolutePath();
    }

    /** A new, empty directory under the root, named after the benchmark for a reader of {@code ls}. */
    static Path newDir(String name) throws IOException {
        Path root = root();
        Files.createDirectories(root);
        return Files.createTempDirectory(root, name + "-");
    }

    /** Deletes {@code dir} and everything in it; missing is fine. */
    static void deleteRecursively(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
