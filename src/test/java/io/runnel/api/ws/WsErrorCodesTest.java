package io.runnel.api.ws;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

import org.junit.jupiter.api.Test;

/**
 * DESIGN.md: WebSocket error frames carry the HTTP API's error codes. The codes are copied (the
 * adapters may not import each other), so this checks each copy against the HTTP original by name,
 * through reflection: a test may look at both without the main code depending on either.
 */
class WsErrorCodesTest {

    @Test
    void everyCodeHasTheValueOfTheHttpApiCodeOfTheSameName() throws Exception {
        Class<?> http = Class.forName("io.runnel.api.http.ErrorCodes");
        int checked = 0;
        for (Field ws : WsErrorCodes.class.getDeclaredFields()) {
            if (ws.getType() != int.class || !Modifier.isStatic(ws.getModifiers())) {
                continue;
            }
            Field original = http.getField(ws.getName());
            assertThat(ws.getInt(null)).as(ws.getName()).isEqualTo(original.getInt(null));
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(10);
    }
}
