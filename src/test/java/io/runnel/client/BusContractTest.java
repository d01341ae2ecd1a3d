package io.runnel.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

import org.junit.jupiter.api.Test;

/**
 * The client's copies of the event bus contract equal the broker's originals (the client may not
 * depend on the broker, so it cannot read them): each constant against the one of the same name,
 * through reflection.
 */
class BusContractTest {

    @Test
    void everyAddressAndMessageTypeIsTheBrokersOfTheSameName() throws Exception {
        Class<?> broker = Class.forName("io.runnel.api.eventbus.EventBusAddresses");
        int checked = 0;
        for (Field copy : BusContract.class.getDeclaredFields()) {
            if (copy.getType() != String.class || !Modifier.isStatic(copy.getModifiers())) {
                continue;
            }
            assertThat(copy.get(null)).as(copy.getName()).isEqualTo(broker.getField(copy.getName()).get(null));
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(11);
    }

    @Test
    void theNotFoundCodeIsTheHttpApis() throws Exception {
        Class<?> http = Class.forName("io.runnel.api.http.ErrorCodes");
        assertThat(BusContract.CONSUMER_INSTANCE_NOT_FOUND)
                .isEqualTo(http.getField("CONSUMER_INSTANCE_NOT_FOUND").getInt(null));
    }
}
