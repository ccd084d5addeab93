using System.Text.Json;
using XenIac.Core.IO;

namespace XenIac.Core.Tests.IO;

public sealed class JsonProblemsTests
{
    private sealed record Shape(int Version, string Name);

    private sealed record Strict
    {
        public required string Needed { get; init; }
    }

    private static JsonException Fail<T>(string json) => Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<T>(json));

    [Theory]
    [InlineData("{\"Version\":\"x\"}", "line 1, column 15, at $.Version: a value of the wrong type")]
    [InlineData("{\"Version\":1,}", "line 1, column 14")]
    [InlineData("nope", "line 1, column 2: 'nope' is an invalid JSON literal")]
    [InlineData("{", "line 1, column 2: the text ends before its objects and arrays are closed")]
    [InlineData("  ", "line 1, column 3: there is no JSON value")]
    [InlineData("{\"Name\":\"\\ud800\"}", "line 1, column 17, at $.Name: a string holds a lone surrogate escape")]
    public void Problems_say_where_and_what_without_dotnet_type_names(string json, string expected)
    {
        var text = JsonProblems.Describe(Fail<Shape>(json));
        Assert.StartsWith(expected, text);
        Assert.DoesNotContain("XenIac", text);
        Assert.DoesNotContain("LineNumber", text);
        Assert.DoesNotContain("Path:", text);
    }

    [Fact]
    public void A_missing_required_property_is_named_without_its_type()
    {
        var text = JsonProblems.Reason(Fail<Strict>("{}"));
        Assert.Contains("missing required properties", text);
        Assert.Contains("Needed", text);
        Assert.DoesNotContain("JsonProblemsTests", text);
    }
}
