package io.runnel.group;

import java.util.function.Supplier;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

/**
 * Moving work and results between Vert.x contexts, the way the rest of Runnel does: state is
 * confined to one context; a caller on another context gets its result back on its own.
 * Stateless.
 */
final class Contexts {

    private Contexts() {
    }

    /**
     * Runs {@code action} on {@code home} (at once when already there) and returns its outcome on
     * {@code home}. A runtime exception thrown by {@code action} becomes a failed future.
     */
    static <T> Future<T> runOn(Context home, Supplier<Future<T>> action) {
        if (Vertx.currentContext() == home) {
            return attempt(action);
        }
        Promise<T> promise = Promise.promise();
        home.runOnContext(v -> attempt(action).onComplete(promise));
        return promise.future();
    }

    /** The same outcome, delivered on {@code target}. */
    static <T> Future<T> deliverOn(Context target, Future<T> result) {
        Promise<T> promise = Promise.promise();
        result.onComplete(outcome -> {
            if (Vertx.currentContext() == target) {
                promise.handle(outcome);
            } else {
                target.runOnContext(v -> promise.handle(outcome));
            }
        });
        return promise.future();
    }

    /** The same outcome, delivered on the calling context, if the caller is on one. */
    static <T> Future<T> onCaller(Future<T> result) {
        Context caller = Vertx.currentContext();
        return caller == null ? result : deliverOn(caller, result);
    }

    private static <T> Future<T> attempt(Supplier<Future<T>> action) {
        try {
            return action.get();
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
    }
}
