package io.runnel.api.eventbus;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

import org.junit.jupiter.api.Test;

/**
 * DESIGN.md: event bus refusals carry the HTTP API's error codes. The codes are copied (the
 * adapters may not import each other), so this checks each copy against the HTTP original by name,
 * through reflection: a test may look at both without the main code depending on either.
 */
class BusErrorCodesTest {

    @Test
    void everyCodeHasTheValueOfTheHttpApiCodeOfTheSameName() throws Exception {
        Class<?> http = Class.forName("io.runnel.api.http.ErrorCodes");
        int checked = 0;
        for (Field bus : BusErrorCodes.class.getDeclaredFields()) {
            if (bus.getType() != int.class || !Modifier.isStatic(bus.getModifiers())) {
                continue;
            }
            Field original = http.getField(bus.getName());
            assertThat(bus.getInt(null)).as(bus.getName()).isEqualTo(original.getInt(null));
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(11);
    }
}
